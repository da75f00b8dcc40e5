#!/usr/bin/env bash
# bench-listener.sh [BYTES] [MSGS] [RUNS]: agreed throughput, 3 sender+receiver clients (one per
# daemon, each keeping 200 of its messages in flight), in one run on this host:
#   spread   Spread 4.4.0's daemons, Spread's libspread (spbench, ../shared/bench/spread)
#   listener chorusd's Spread-compatible listener, the same spbench binary
#   native   chorusd's own protocol (chorus bench --connect, 1 sender per daemon), with the same
#            200 messages in flight per sender (native-200), and flat out (native-open)
# Prints messages per second per receiver (the median client) for each, run by run.
set -euo pipefail
cd "$(dirname "$0")/../.."
bytes=${1:-1000} msgs=${2:-20000} runs=${3:-3}
out=.build-spread
scripts/spread/build.sh "$out" | grep -q SKIP && { echo "SKIP: no Spread here"; exit 0; }
spbench=$out/bin/spbench
if [ ! -x "$spbench" ] || [ ../shared/bench/spread/spbench.c -nt "$spbench" ]; then
    gcc -O2 -I"$out/include" -o "$spbench" ../shared/bench/spread/spbench.c "$out/lib/libspread-core.a" -lpthread -ldl -lm
fi
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
spbench3() { # ADDR1 ADDR2 ADDR3: the median client's rate_msgs
    local group=g$RANDOM i=0 pids=() files=()
    for addr in "$@"; do
        i=$((i + 1)); f=$(mktemp); files+=("$f")
        "$spbench" -s "$addr" -u "x$i" -g "$group" -t agreed -b "$bytes" -m "$msgs" -n 3 -S 3 -x -w 200 -T 120 >"$f" 2>/dev/null &
        pids+=($!)
        sleep 0.05
    done
    wait "${pids[@]}" || true
    cat "${files[@]}" | sed -n 's/.* rate_msgs=\([0-9.]*\) .*/\1/p' | median
    rm -f "${files[@]}"
}
for run in $(seq 1 "$runs"); do
    # Spread 4.4.0
    D=$(scripts/spread/spread-daemons.sh start -n 3 | tail -1)
    scripts/spread/spread-daemons.sh wait "$D" >/dev/null
    . "$D/env.sh"
    spread=$(spbench3 "$D1_ADDR" "$D2_ADDR" "$D3_ADDR")
    scripts/spread/spread-daemons.sh stop "$D" >/dev/null
    # chorusd: the Spread listener, then its own protocol
    C=$(mktemp -d)
    scripts/spread/start-chorusd.sh 3 "$C"
    . "$C/env.sh"
    listener=$(spbench3 "$D1_ADDR" "$D2_ADDR" "$D3_ADDR")
    native() {
        .build/release/chorus bench --connect 127.0.0.1:48300 --connect 127.0.0.1:48310 --connect 127.0.0.1:48320 \
            --size "$bytes" --duration 5 --in-flight "$1" 2>&1 | sed -n 's/.*per receiver (mean): \([0-9]*\) msg\/s.*/\1/p'
    }
    native200=$(native 200)
    nativeopen=$(native 0)
    scripts/spread/stop-chorusd.sh "$C"
    rm -rf "$C"
    echo "run $run: agreed ${bytes} B msg/s per receiver: spread $spread  listener $listener  native-200 $native200  native-open $nativeopen"
done

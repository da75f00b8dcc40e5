#!/usr/bin/env bash
# start-chorusd.sh N DIR: starts N chorusd daemons (d1..dN) with the Spread-compatible listener,
# for golden.sh --start: writes DIR/env.sh as spread-daemons.sh does (DK_ADDR=port@127.0.0.1,
# DK_UNIX, DK_PID) and returns once every daemon accepts Spread clients and the ring has formed.
#   scripts/spread/golden.sh --start scripts/spread/start-chorusd.sh --out /tmp/chorus-golden
# Ports 48300-48399 (10 per daemon); CHORUSD (default .build/release/chorusd) picks the binary.
set -euo pipefail
n=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
chorusd=${CHORUSD:-$here/../../.build/release/chorusd}
base=${CHORUS_SPREAD_BASE_PORT:-48300}
config=$dir/chorus.toml
: >"$config"
for k in $(seq 1 "$n"); do
    p=$((base + 10 * (k - 1)))
    cat >>"$config" <<EOT
[[daemon]]
name = "d$k"
address = "127.0.0.1"
port = $((p + 1))
client_port = $p
unix_socket = "$dir/d$k.sock"
spread_port = $((p + 5))
spread_socket = "$dir/d$k.spread"

EOT
done
: >"$dir/env.sh"
for k in $(seq 1 "$n"); do
    p=$((base + 10 * (k - 1)))
    "$chorusd" --config "$config" --name "d$k" >"$dir/d$k.log" 2>&1 &
    echo "D${k}_ADDR=$((p + 5))@127.0.0.1" >>"$dir/env.sh"
    echo "D${k}_PORT=$((p + 5))" >>"$dir/env.sh"
    echo "D${k}_UNIX=$dir/d$k.spread" >>"$dir/env.sh"
    echo "D${k}_PID=$!" >>"$dir/env.sh"
done
echo "DIR=$dir N=$n" >>"$dir/env.sh"
# Ready: every Spread socket exists and every daemon logged a configuration of all N.
for _ in $(seq 1 200); do
    ready=1
    for k in $(seq 1 "$n"); do
        pid=$(sed -n "s/^D${k}_PID=//p" "$dir/env.sh")
        kill -0 "$pid" 2>/dev/null || { echo "start-chorusd.sh: d$k exited: $(tail -2 "$dir/d$k.log")" >&2; exit 1; }
        [ -S "$dir/d$k.spread" ] && grep -q "regular configuration .*: $n daemons" "$dir/d$k.log" || ready=0
    done
    [ "$ready" = 1 ] && exit 0
    sleep 0.1
done
echo "start-chorusd.sh: the daemons did not form a ring of $n in 20 s" >&2
exit 1

#!/usr/bin/env bash
# Starts and stops real Spread 4.4.0 daemons (built by build.sh) on this host, for comparison tests.
#
#   scripts/spread/spread-daemons.sh start [-n N] [--base-port P] [--dir DIR] [--bin OUT]
#   scripts/spread/spread-daemons.sh wait DIR [SECONDS]     until every daemon's configuration lists all N
#   scripts/spread/spread-daemons.sh stop DIR               kills the PIDs recorded in DIR, only those
#
# start: N daemons d1..dN (default 3, at most 9), daemon dK on 127.0.0.K, port P+3(K-1) (default
# P=48100: d1 48100, d2 48103, d3 48106; Spread uses UDP port, port+1 and port+2 and TCP port on
# the daemon's address, and the Unix socket <socket dir>/<port>, /tmp/<port> by default). One segment
# per daemon, as in ../shared/bench/spread/spread3.conf. DIR (default: a new /tmp/spread-test.XXXXXX)
# gets spread.conf, dK.pid, dK.log, and env.sh (D1_ADDR=48100@127.0.0.1 D1_PORT=48100
# D1_UNIX=/tmp/48100 D1_PID=..., N, DIR: what the scenarios in scenarios/ use). Prints DIR on the last line of stdout. Run as root, the daemons are started as nobody
# (setpriv), so that Spread does not chroot/setuid; the ports must stay within 48100-48199 here
# (or 32100-32199, for Spread's Java library, which refuses ports above 32768: golden.sh --java).
# Exits non-zero (after stopping what it started) if a daemon dies at once.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

die() { echo "spread-daemons.sh: $*" >&2; exit 1; }

stop_dir() {
    local dir=$1 f p i
    for f in "$dir"/d*.pid; do
        [ -f "$f" ] || continue
        p=$(cat "$f")
        # only a process we started: its pid file, and it is a spread daemon
        if [ -n "$p" ] && [ -d "/proc/$p" ] && grep -q spread "/proc/$p/comm" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for i in $(seq 50); do [ -d "/proc/$p" ] || break; sleep 0.1; done
            [ -d "/proc/$p" ] && kill -KILL "$p" 2>/dev/null || true
        fi
        rm -f "$f"
    done
}

cmd=${1:-}
[ -n "$cmd" ] && shift
case $cmd in
start)
    n=3 base=48100 dir="" bin=$REPO/.build-spread
    while [ $# -gt 0 ]; do
        case $1 in
        -n) n=$2; shift 2 ;;
        --base-port) base=$2; shift 2 ;;
        --dir) dir=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        *) die "unknown argument $1" ;;
        esac
    done
    [[ $n =~ ^[1-9]$ ]] || die "-n must be 1..9"
    [[ $base =~ ^[0-9]+$ ]] || die "--base-port must be a number"
    [ -x "$bin/sbin/spread" ] || die "no $bin/sbin/spread: run scripts/spread/build.sh first"
    last=$((base + 3 * (n - 1) + 2))
    if { [ "$base" -lt 48100 ] || [ "$last" -gt 48199 ]; } && { [ "$base" -lt 32100 ] || [ "$last" -gt 32199 ]; }; then
        echo "spread-daemons.sh: warning: ports $base-$last are outside 48100-48199 and 32100-32199" >&2
    fi
    if [ -z "$dir" ]; then
        dir=$(mktemp -d /tmp/spread-test.XXXXXX)
    else
        mkdir -p "$dir"
    fi
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir"
    conf=$dir/spread.conf
    {
        echo "# written by scripts/spread/spread-daemons.sh: $n daemon(s), one segment each, loopback"
        for k in $(seq "$n"); do
            port=$((base + 3 * (k - 1)))
            printf 'Spread_Segment 127.0.0.%s:%s {\n    d%s 127.0.0.%s {\n        127.0.0.%s\n    }\n}\n' \
                "$k" "$port" "$k" "$k" "$k"
        done
        echo "DebugFlags = { PRINT EXIT }"
        echo "EventPriority = INFO"
        echo "EventTimeStamp"
        echo "DangerousMonitor = false"
        echo "RuntimeDir = $dir"
    } >"$conf"
    chmod 644 "$conf"
    runas=()
    if [ "$(id -u)" = 0 ]; then
        command -v setpriv >/dev/null || die "running as root needs setpriv (util-linux) to start Spread as nobody"
        runas=(setpriv --reuid=65534 --regid=65534 --clear-groups)
    fi
    sockdir=$(cat "$bin/socket-dir" 2>/dev/null || echo /tmp)
    lb=()
    command -v stdbuf >/dev/null && lb=(stdbuf -oL -eL)
    {
        echo "DIR=$dir"
        echo "N=$n"
    } >"$dir/env.sh"
    trap 'stop_dir "$dir"' ERR
    for k in $(seq "$n"); do
        port=$((base + 3 * (k - 1)))
        "${runas[@]}" "${lb[@]}" "$bin/sbin/spread" -n "d$k" -c "$conf" >"$dir/d$k.log" 2>&1 </dev/null &
        echo $! >"$dir/d$k.pid"
        printf 'D%s_ADDR=%s@127.0.0.%s\nD%s_PORT=%s\nD%s_UNIX=%s/%s\nD%s_PID=%s\n' \
            "$k" "$port" "$k" "$k" "$port" "$k" "$sockdir" "$port" "$k" "$!" >>"$dir/env.sh"
    done
    sleep 0.3
    for k in $(seq "$n"); do
        p=$(cat "$dir/d$k.pid")
        if [ ! -d "/proc/$p" ]; then
            stop_dir "$dir"
            die "daemon d$k exited at once: $(tail -3 "$dir/d$k.log")"
        fi
    done
    trap - ERR
    echo "$dir"
    ;;
wait)
    dir=${1:?DIR}
    secs=${2:-30}
    # shellcheck disable=SC1091
    . "$dir/env.sh"
    for t in $(seq $((secs * 5))); do
        ok=1
        for k in $(seq "$N"); do
            # the daemon's last "Configuration at ..." block must list d1..dN
            got=$(awk '/Configuration at /{blk=""} {blk=blk"\n"$0} END{print blk}' "$dir/d$k.log" |
                grep -oE '^[^ ]+ [^ ]+[[:space:]]+d[0-9]\b' | grep -oE 'd[0-9]$' | sort -u | tr '\n' ' ' || true)
            want=$(for j in $(seq "$N"); do echo "d$j"; done | tr '\n' ' ')
            [ "$got" = "$want" ] || ok=0
        done
        [ "$ok" = 1 ] && exit 0
        sleep 0.2
    done
    die "the $N daemons in $dir did not form one configuration within $secs s (logs: $dir/d*.log)"
    ;;
stop)
    dir=${1:?DIR}
    [ -d "$dir" ] || exit 0
    stop_dir "$dir"
    ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac

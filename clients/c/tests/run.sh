#!/bin/sh
# Runs the C client's tests: the decoder unit tests and the session tests against a
# scripted fake daemon, then the integration tests against a real site of three chorusd
# processes.
#
#   sh tests/run.sh BUILD_DIR [TEST-NAME-PART...]
#
# chorusd comes from $CHORUS_BIN_DIR (default: ../../.build/release from clients/c).
# Without it the integration tests are skipped (exit 0). The site uses ports in
# 47000-47999 and Unix sockets in a temporary directory; the daemons started here are
# killed by PID and the directory removed on every exit, failures included.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
case $build in /*) ;; *) build=$here/$build ;; esac
bin_dir=${CHORUS_BIN_DIR:-$here/../../.build/release}
chorusd=$bin_dir/chorusd

"$build/test_decoder" "$here/fuzz/corpus" || exit 1
"$build/test_fake_daemon" || exit 1

if [ ! -x "$chorusd" ]; then
    echo "SKIP: integration tests: no chorusd executable at $chorusd (set CHORUS_BIN_DIR to its directory)"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chorus-c-test.XXXXXX") || exit 1
pids=""
lock=""

cleanup() {
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
    for pid in $pids; do wait "$pid" 2>/dev/null; done
    pids=""
    rm -rf "$tmp"
    [ -n "$lock" ] && rm -rf "$lock"
    lock=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Ports: a block of 12 (3 daemons x client, ring, token, hop) at a random place in 47000-47999.
# CHORUS_TEST_BASE_PORT fixes the block's first port (for reproducing a run).
random_base() {
    if [ -n "${CHORUS_TEST_BASE_PORT:-}" ]; then
        echo "$CHORUS_TEST_BASE_PORT"
        return
    fi
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    echo $((47000 + (r % 62) * 16))
}

# Two runs at once must not share a block: daemons of one site that fail to bind still
# disturb the other's ring. A run claims its block with a lock directory holding its PID;
# the lock of a run that no longer exists is taken over.
claim_block() {
    candidate=${TMPDIR:-/tmp}/chorus-c-test-ports-$1.lock
    if mkdir "$candidate" 2>/dev/null; then
        echo $$ > "$candidate/pid"
        lock=$candidate
        return 0
    fi
    owner=$(cat "$candidate/pid" 2>/dev/null)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
        rm -rf "$candidate"
        if mkdir "$candidate" 2>/dev/null; then
            echo $$ > "$candidate/pid"
            lock=$candidate
            return 0
        fi
    fi
    return 1
}

write_config() {
    base=$1
    : > "$tmp/site.toml"
    for i in 1 2 3; do
        p=$((base + (i - 1) * 4))
        cat >> "$tmp/site.toml" <<EOF
[[daemon]]
name = "d$i"
address = "127.0.0.1"
client_port = $p
port = $((p + 1))
token_port = $((p + 2))
hop_port = $((p + 3))
unix_socket = "$tmp/d$i.sock"

EOF
    done
    # Fast failure detection on one host, as the Swift integration tests use.
    cat >> "$tmp/site.toml" <<EOF
[ring]
token_timeout_ms = 300
token_retransmit_ms = 20
join_timeout_ms = 20
consensus_timeout_ms = 200
idle_hold_ms = 60
merge_probe_ms = 300
merge_backoff_ms = 300
max_gather_ms = 1000

[log]
level = "notice"

# For the refused-request tests: nobody may join or send to forbidden*.
[[access_rule]]
groups = ["forbidden*"]
join = []
send = []
EOF
}

start_site() {
    pids=""
    for i in 1 2 3; do
        "$chorusd" --config "$tmp/site.toml" --name "d$i" --exit-with-parent > "$tmp/d$i.log" 2>&1 &
        pids="$pids $!"
        eval "pid$i=\$!"
    done
}

stop_site() {
    for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
    for pid in $pids; do wait "$pid" 2>/dev/null; done
    pids=""
    rm -f "$tmp"/d?.sock
}

show_logs() {
    for i in 1 2 3; do
        echo "---- last lines of d$i's log ----"
        tail -n 15 "$tmp/d$i.log" 2>/dev/null
    done
}

# Start the site; if it does not come up (a daemon cannot bind its ports, say), try another block.
started=$(date +%s)
attempt=1
while :; do
    base=$(random_base)
    tries=0
    until claim_block "$base" && "$build/test_chorus" --ports-free "$base"; do
        [ -n "$lock" ] && rm -rf "$lock"
        lock=""
        tries=$((tries + 1))
        if [ -n "${CHORUS_TEST_BASE_PORT:-}" ] || [ $tries -ge 200 ]; then
            echo "FAIL: the port block from $base is in use (another test run, or other sockets)"
            exit 1
        fi
        base=$(random_base)
    done
    write_config "$base"
    start_site
    export CHORUS_TEST_TCP1="127.0.0.1:$base" CHORUS_TEST_TCP2="127.0.0.1:$((base + 4))" \
        CHORUS_TEST_TCP3="127.0.0.1:$((base + 8))" \
        CHORUS_TEST_UNIX1="$tmp/d1.sock" CHORUS_TEST_UNIX2="$tmp/d2.sock" CHORUS_TEST_UNIX3="$tmp/d3.sock" \
        CHORUS_TEST_PID1="$pid1" CHORUS_TEST_PID2="$pid2" CHORUS_TEST_PID3="$pid3" \
        CHORUS_TEST_CLOSED_PORT="$((base + 3))" CHORUS_TEST_DIR="$tmp"
    if "$build/test_chorus" --wait-ready; then
        break
    fi
    stop_site
    rm -rf "$lock"
    lock=""
    # Ports taken meanwhile, or a chorusd being rebuilt at that moment: try again, elsewhere.
    if [ $attempt -lt 4 ] && [ -z "${CHORUS_TEST_BASE_PORT:-}" ]; then
        if grep -qi "in use" "$tmp"/d?.log 2>/dev/null; then
            echo "ports from $base are taken; trying another block"
        else
            echo "the site from port $base did not start; trying again"
            show_logs
        fi
        attempt=$((attempt + 1))
        continue
    fi
    echo "FAIL: the site did not become ready"
    show_logs
    exit 1
done

echo "site of 3 daemons ready on ports $base-$((base + 11)) after $(( $(date +%s) - started )) s"
"$build/test_chorus" "$@"
status=$?
if [ $status -eq 0 ] && [ $# -eq 0 ]; then
    # The README's example, linked against libchorus.so.
    out=$("$build/hello" "$CHORUS_TEST_TCP1" 2>&1)
    case $out in
        *"hello from"*) echo "ok - examples/hello.c (shared library) printed: $out" ;;
        *) echo "FAIL: examples/hello.c: $out"; status=1 ;;
    esac
fi
if [ $status -ne 0 ]; then
    show_logs
fi
exit $status

#!/usr/bin/env bash
# Runs the spclient scenarios (scripts/spread/scenarios/*.spc) against real Spread 4.4.0 daemons and
# records the transcripts as scripts/spread/golden/<scenario>.txt, or checks them.
#
#   scripts/spread/golden.sh [--check] [--bin OUT] [--base-port P] [SCENARIO...]
#
# SCENARIO: basic, three-daemons, partition (default: all of scenarios/*.spc). Each scenario's first
# line says how many daemons it needs ("# daemons: N"); they are started fresh for it with
# spread-daemons.sh (ports P.. default 48100, at most 48199 here) and always stopped afterwards, by
# PID. --check runs the scenarios and diffs them, normalized (normalize.sh), against the golden files
# instead of writing them; exit status 1 on a difference. OUT is build.sh's output
# [<repo>/.build-spread]; it is built first when missing (and "SKIP: ..." exits 0 like build.sh when
# the Spread tarball is not there).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
check=0 bin=$REPO/.build-spread base=48100
names=()
while [ $# -gt 0 ]; do
    case $1 in
    --check) check=1; shift ;;
    --bin) bin=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "golden.sh: unknown option $1" >&2; exit 2 ;;
    *) names+=("${1%.spc}"); shift ;;
    esac
done
if [ ${#names[@]} = 0 ]; then
    for f in "$HERE"/scenarios/*.spc; do names+=("$(basename "$f" .spc)"); done
fi
if [ ! -x "$bin/bin/spclient" ] || [ ! -x "$bin/sbin/spread" ]; then
    msg=$("$HERE/build.sh" "$bin")
    echo "$msg"
    case $msg in SKIP:*) exit 0 ;; esac
fi
"$HERE/build.sh" "$bin" >/dev/null # spclient up to date with spclient.c

DIR="" keep=""
cleanup() {
    if [ -n "$DIR" ]; then
        "$HERE/spread-daemons.sh" stop "$DIR" || true
        [ "$DIR" = "$keep" ] || rm -rf "$DIR"
        DIR=""
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

rel_bin=$bin
case $bin in "$REPO"/*) rel_bin=${bin#"$REPO"/} ;; esac
mkdir -p "$HERE/golden"
status=0
for name in "${names[@]}"; do
    scn=$HERE/scenarios/$name.spc
    [ -f "$scn" ] || { echo "golden.sh: no scenario $scn" >&2; exit 2; }
    n=$(sed -n '1s/^# daemons: \([0-9]\)$/\1/p' "$scn")
    [ -n "$n" ] || { echo "golden.sh: $scn: the first line must be '# daemons: N'" >&2; exit 2; }
    DIR=$(mktemp -d /tmp/spread-golden.XXXXXX)
    "$HERE/spread-daemons.sh" start -n "$n" --base-port "$base" --dir "$DIR" --bin "$bin" >/dev/null
    "$HERE/spread-daemons.sh" wait "$DIR" 30
    t0=$(date +%s)
    set +e
    (
        set -a
        # shellcheck disable=SC1091
        . "$DIR/env.sh"
        set +a
        cd "$REPO"
        "$bin/bin/spclient" --echo <"$scn"
    ) >"$DIR/out.txt" 2>"$DIR/err.txt"
    rc=$?
    set -e
    secs=$(($(date +%s) - t0))
    daemons=$(grep -E '^D[0-9]_(ADDR|UNIX)=' "$DIR/env.sh" | tr '\n' ' ')
    if [ "$check" = 1 ]; then
        if diff -u <("$HERE/normalize.sh" "$HERE/golden/$name.txt") <("$HERE/normalize.sh" "$DIR/out.txt") >"$DIR/diff.txt"; then
            echo "golden.sh: $name: same as golden/$name.txt ($secs s)"
        else
            echo "golden.sh: $name: DIFFERS from golden/$name.txt ($secs s):"
            cat "$DIR/diff.txt"
            status=1
        fi
    else
        {
            echo "# golden transcript: scripts/spread/scenarios/$name.spc run by spclient (libspread 4.4.0) against $n real Spread 4.4.0 daemon(s)"
            echo "# produced by: scripts/spread/golden.sh $name      (from the repository root; Spread built by scripts/spread/build.sh)"
            echo "# which ran:   scripts/spread/spread-daemons.sh start -n $n --base-port $base --dir \$DIR --bin $rel_bin && scripts/spread/spread-daemons.sh wait \$DIR"
            echo "#              (set -a; . \$DIR/env.sh; set +a; $rel_bin/bin/spclient --echo < scripts/spread/scenarios/$name.spc)"
            echo "# daemons:     $daemons"
            echo "# recorded:    $(date -u '+%Y-%m-%d %H:%M UTC'), $secs s, spclient exit status $rc (1 = some ERR line, expected here)"
            echo "# lines: '> ' = the command echoed (before \${VAR} expansion), then its result/events; see scripts/spread/README.md"
            cat "$DIR/out.txt"
        } >"$HERE/golden/$name.txt"
        echo "golden.sh: wrote scripts/spread/golden/$name.txt ($(grep -c . "$DIR/out.txt") lines, $secs s)"
    fi
    # a daemon that died on its own (not killed by the scenario) keeps the run's files for a look
    for pidf in "$DIR"/d*.pid; do
        p=$(cat "$pidf")
        if ! grep -qs '^State:[[:space:]]*[RSD]' "/proc/$p/status" && ! grep -q "kill -KILL \${$(basename "$pidf" .pid | tr d D)_PID}" "$scn"; then
            echo "golden.sh: $name: daemon $(basename "$pidf" .pid) died; logs kept in $DIR" >&2
            keep=$DIR
        fi
    done
    if [ -s "$DIR/err.txt" ]; then
        echo "golden.sh: $name: spclient stderr:" >&2
        sed 's/^/    /' "$DIR/err.txt" >&2
    fi
    cleanup
done
exit $status

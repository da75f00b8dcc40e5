#!/usr/bin/env bash
# Runs the spclient scenarios (scripts/spread/scenarios/*.spc) against real Spread 4.4.0 daemons and
# records the transcripts as scripts/spread/golden/<scenario>.txt, or checks them; or runs them
# against other daemons (chorusd's Spread listener) and diffs those against the golden files.
#
#   scripts/spread/golden.sh [--check] [--bin OUT] [--base-port P] [SCENARIO...]
#   scripts/spread/golden.sh --start CMD [--stop CMD] (--check | --out DIR) [SCENARIO...]
#   scripts/spread/golden.sh --java [the options above] [SCENARIO...]
#
# SCENARIO: basic, three-daemons, partition (default: all of scenarios/*.spc). Each scenario's first
# line says how many daemons it needs ("# daemons: N"); they are started fresh for it and always
# stopped afterwards. By default these are Spread daemons (spread-daemons.sh: ports P.., default
# 48100, at most 48199 here; stopped by PID).
#   --check       run and diff, normalized (normalize.sh), against golden/<scenario>.txt instead of
#                 writing it; exit status 1 on a difference
#   --start CMD   start other daemons instead: run as `CMD N DIR`, it must start N daemons, write
#                 DIR/env.sh (D1_ADDR=port@host, D1_UNIX=socket path, D1_PID=pid, ... as
#                 spread-daemons.sh does; D1_UNIX/D3_PID only where a scenario uses them) and
#                 return once they accept clients. --stop CMD is run as `CMD DIR` afterwards
#                 (default: kill the D*_PID of DIR/env.sh). Their transcripts go to --out DIR
#                 (never over the golden files) unless --check.
#   --bin OUT     build.sh's output [<repo>/.build-spread]; built first when missing ("SKIP: ..."
#                 and exit 0, like build.sh, when the Spread tarball is not there)
#   --java        the Java scenarios (scenarios/*.jspc) with SpJClient, Spread's own Java library
#                 (build-java.sh; "SKIP: ..." and exit 0 without the tarball or javac). That library
#                 refuses ports above 32768, so the Spread daemons get --base-port 32100 unless one
#                 is given, and CHORUS_SPREAD_BASE_PORT (start-chorusd.sh's) defaults to 32300.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
check=0 bin=$REPO/.build-spread base="" start_cmd="" stop_cmd="" outdir="" java=0
names=()
while [ $# -gt 0 ]; do
    case $1 in
    --check) check=1; shift ;;
    --start) start_cmd=$2; shift 2 ;;
    --stop) stop_cmd=$2; shift 2 ;;
    --out) outdir=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --base-port) base=$2; shift 2 ;;
    --java) java=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "golden.sh: unknown option $1" >&2; exit 2 ;;
    *) n=${1%.spc}; names+=("${n%.jspc}"); shift ;;
    esac
done
if [ -n "$start_cmd" ] && [ "$check" = 0 ] && [ -z "$outdir" ]; then
    echo "golden.sh: with --start, give --check or --out DIR (the golden files are Spread's)" >&2
    exit 2
fi
if [ -n "$outdir" ]; then
    mkdir -p "$outdir"
    outdir=$(cd "$outdir" && pwd)
fi
ext=spc client_name="spclient (libspread 4.4.0)"
if [ "$java" = 1 ]; then
    ext=jspc client_name="SpJClient (Spread 4.4.0's Java library)"
    base=${base:-32100} # SpreadConnection.connect refuses ports above 32768
    export CHORUS_SPREAD_BASE_PORT=${CHORUS_SPREAD_BASE_PORT:-32300}
fi
base=${base:-48100}
if [ ${#names[@]} = 0 ]; then
    for f in "$HERE"/scenarios/*."$ext"; do names+=("$(basename "$f" ."$ext")"); done
fi
if [ "$java" = 1 ]; then
    if [ -z "$start_cmd" ] && [ ! -x "$bin/sbin/spread" ]; then
        msg=$("$HERE/build.sh" "$bin")
        echo "$msg"
        case $msg in SKIP:*) exit 0 ;; esac
    fi
    msg=$("$HERE/build-java.sh" "$bin") # SpJClient up to date with SpJClient.java
    case $msg in SKIP:*) echo "$msg"; exit 0 ;; esac
    client=("$bin/java/spjclient")
else
    if [ ! -x "$bin/bin/spclient" ] || { [ -z "$start_cmd" ] && [ ! -x "$bin/sbin/spread" ]; }; then
        msg=$("$HERE/build.sh" "$bin")
        echo "$msg"
        case $msg in SKIP:*) exit 0 ;; esac
    fi
    "$HERE/build.sh" "$bin" >/dev/null # spclient up to date with spclient.c
    client=("$bin/bin/spclient")
fi

stop_target() { # DIR: the --stop command, or kill the D*_PID of DIR/env.sh
    if [ -n "$stop_cmd" ]; then
        bash -c "$stop_cmd \"\$1\"" _ "$1"
        return
    fi
    local p
    for p in $(sed -n 's/^D[0-9]*_PID=\([0-9][0-9]*\)$/\1/p' "$1/env.sh" 2>/dev/null); do
        kill -TERM "$p" 2>/dev/null || true
    done
}
DIR="" keep=""
cleanup() {
    if [ -n "$DIR" ]; then
        if [ -n "$start_cmd" ]; then
            stop_target "$DIR" || true
        else
            "$HERE/spread-daemons.sh" stop "$DIR" || true
        fi
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
    scn=$HERE/scenarios/$name.$ext
    [ -f "$scn" ] || { echo "golden.sh: no scenario $scn" >&2; exit 2; }
    n=$(sed -n '1s/^# daemons: \([0-9]\)$/\1/p' "$scn")
    [ -n "$n" ] || { echo "golden.sh: $scn: the first line must be '# daemons: N'" >&2; exit 2; }
    DIR=$(mktemp -d /tmp/spread-golden.XXXXXX)
    if [ -n "$start_cmd" ]; then
        bash -c "$start_cmd \"\$1\" \"\$2\"" _ "$n" "$DIR" >"$DIR/start.log" 2>&1 ||
            { echo "golden.sh: $name: --start failed: $(tail -3 "$DIR/start.log")" >&2; exit 1; }
        [ -f "$DIR/env.sh" ] || { echo "golden.sh: $name: --start wrote no $DIR/env.sh" >&2; exit 1; }
    else
        "$HERE/spread-daemons.sh" start -n "$n" --base-port "$base" --dir "$DIR" --bin "$bin" >/dev/null
        "$HERE/spread-daemons.sh" wait "$DIR" 30
    fi
    t0=$(date +%s)
    set +e
    (
        set -a
        # shellcheck disable=SC1091
        . "$DIR/env.sh"
        set +a
        cd "$REPO"
        "${client[@]}" --echo <"$scn"
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
    elif [ -n "$outdir" ]; then
        {
            echo "# transcript: scripts/spread/scenarios/$name.$ext run by ${client_name%% *} against daemons started by: $start_cmd"
            echo "# daemons:    $daemons"
            echo "# recorded:   $(date -u '+%Y-%m-%d %H:%M UTC'), $secs s, ${client_name%% *} exit status $rc"
            cat "$DIR/out.txt"
        } >"$outdir/$name.txt"
        echo "golden.sh: wrote $outdir/$name.txt; compare: diff <(scripts/spread/normalize.sh scripts/spread/golden/$name.txt) <(scripts/spread/normalize.sh $outdir/$name.txt)"
    else
        {
            if [ "$java" = 1 ]; then
                echo "# golden transcript: scripts/spread/scenarios/$name.$ext run by $client_name against $n real Spread 4.4.0 daemon(s)"
                echo "# produced by: scripts/spread/golden.sh --java $name      (from the repository root; Spread built by scripts/spread/build.sh, SpJClient by build-java.sh)"
                echo "# which ran:   scripts/spread/spread-daemons.sh start -n $n --base-port $base --dir \$DIR --bin $rel_bin && scripts/spread/spread-daemons.sh wait \$DIR"
                echo "#              (set -a; . \$DIR/env.sh; set +a; $rel_bin/java/spjclient --echo < scripts/spread/scenarios/$name.$ext)"
            else
                echo "# golden transcript: scripts/spread/scenarios/$name.spc run by spclient (libspread 4.4.0) against $n real Spread 4.4.0 daemon(s)"
                echo "# produced by: scripts/spread/golden.sh $name      (from the repository root; Spread built by scripts/spread/build.sh)"
                echo "# which ran:   scripts/spread/spread-daemons.sh start -n $n --base-port $base --dir \$DIR --bin $rel_bin && scripts/spread/spread-daemons.sh wait \$DIR"
                echo "#              (set -a; . \$DIR/env.sh; set +a; $rel_bin/bin/spclient --echo < scripts/spread/scenarios/$name.spc)"
            fi
            echo "# daemons:     $daemons"
            echo "# recorded:    $(date -u '+%Y-%m-%d %H:%M UTC'), $secs s, ${client_name%% *} exit status $rc (1 = some ERR line, expected here)"
            echo "# lines: '> ' = the command echoed (before \${VAR} expansion), then its result/events; see scripts/spread/README.md"
            cat "$DIR/out.txt"
        } >"$HERE/golden/$name.txt"
        echo "golden.sh: wrote scripts/spread/golden/$name.txt ($(grep -c . "$DIR/out.txt") lines, $secs s)"
    fi
    # a daemon that died on its own (not killed by the scenario) keeps the run's files for a look
    for pidf in "$DIR"/d*.pid; do
        [ -f "$pidf" ] && [ -z "$start_cmd" ] || continue
        p=$(cat "$pidf")
        if ! grep -qs '^State:[[:space:]]*[RSD]' "/proc/$p/status" && ! grep -q "kill -KILL \${$(basename "$pidf" .pid | tr d D)_PID}" "$scn"; then
            echo "golden.sh: $name: daemon $(basename "$pidf" .pid) died; logs kept in $DIR" >&2
            keep=$DIR
        fi
    done
    if [ -s "$DIR/err.txt" ]; then
        echo "golden.sh: $name: ${client_name%% *} stderr:" >&2
        sed 's/^/    /' "$DIR/err.txt" >&2
    fi
    cleanup
done
exit $status

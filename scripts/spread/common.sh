# Sourced by build.sh and build-java.sh: their shared argument parsing and where Spread 4.4.0's
# source tarball is. Sets HERE, REPO, force, OUT and SPREAD_TARBALL (absolute), or prints
# "SKIP: <reason>" and exits 0 when there is no tarball (a fresh clone has no ../shared).
# The caller sets SCRIPT (its name, for messages) and `set -euo pipefail` first.

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

force=0
OUT=""
for a in "$@"; do
    case $a in
    --force | -f) force=1 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    -*)
        echo "$SCRIPT: unknown option $a" >&2
        exit 2
        ;;
    *)
        [ -z "$OUT" ] || { echo "$SCRIPT: only one OUT directory" >&2; exit 2; }
        OUT=$a
        ;;
    esac
done
OUT=${OUT:-$REPO/.build-spread}

if [ -z "${SPREAD_TARBALL:-}" ]; then
    cand=$REPO/../shared/bench/spread/spread-src-4.4.0.tar.gz
    [ -f "$cand" ] && SPREAD_TARBALL=$cand
fi
if [ -z "${SPREAD_TARBALL:-}" ]; then
    if [ ! -d "$REPO/../shared/bench/spread" ]; then
        echo "SKIP: no ../shared/bench/spread next to this checkout (set SPREAD_TARBALL to Spread 4.4.0's source tarball)"
    else
        echo "SKIP: spread-src-4.4.0.tar.gz is not in ../shared/bench/spread (set SPREAD_TARBALL)"
    fi
    exit 0
fi
if [ ! -f "$SPREAD_TARBALL" ]; then
    echo "SKIP: SPREAD_TARBALL=$SPREAD_TARBALL does not exist"
    exit 0
fi
SPREAD_TARBALL=$(cd "$(dirname "$SPREAD_TARBALL")" && pwd)/$(basename "$SPREAD_TARBALL")

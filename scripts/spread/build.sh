#!/usr/bin/env bash
# Builds Spread 4.4.0 (libspread, spuser, spflooder, the spread daemon) from the source tarball kept
# next to the benchmarks, plus spclient (scripts/spread/spclient.c), for comparison tests of
# chorusd's Spread client-protocol listener. See scripts/spread/README.md.
#
#   scripts/spread/build.sh [--force] [OUT]        OUT defaults to <repo>/.build-spread
#
# Result (prefix OUT):
#   OUT/lib/libspread-core.a   libspread without Flush/stdutil (what spuser and spclient link)
#   OUT/lib/libspread.a, libtspread-core.a, *.so  (also installed by Spread's "make install")
#   OUT/include/sp.h sp_func.h sp_events.h fl.h
#   OUT/bin/spuser OUT/bin/spflooder OUT/bin/spmonitor OUT/bin/sptuser OUT/bin/flush_user
#   OUT/sbin/spread (and the symlink OUT/bin/spread)
#   OUT/bin/spclient
#   OUT/socket-dir             the Unix socket directory compiled in (see SPREAD_UNIX_SOCKET_DIR)
# Scratch: OUT/work/src (the unpacked tarball) and OUT/work/obj (the out-of-tree build).
#
# Environment:
#   SPREAD_TARBALL          the tarball [<repo>/../shared/bench/spread/spread-src-4.4.0.tar.gz]
#   SPREAD_UNIX_SOCKET_DIR  compiled into libspread and the daemon: SP_connect("4803") means the
#                           Unix socket <dir>/4803 [/tmp, Spread's own default]
#   JOBS                    make -j [nproc]
#
# Offline, never writes outside OUT. Idempotent: Spread is rebuilt only when missing, when the
# tarball or the settings above changed, or with --force; spclient is recompiled when spclient.c
# (or this script) is newer than the binary. Exits 0 with "SKIP: <reason>" when the tarball is
# not there (a fresh clone has no ../shared).
set -euo pipefail

SCRIPT=build.sh
# shellcheck source=scripts/spread/common.sh
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

for tool in gcc make tar sha256sum flock; do
    command -v "$tool" >/dev/null || { echo "build.sh: '$tool' is needed" >&2; exit 1; }
done

SOCKDIR=${SPREAD_UNIX_SOCKET_DIR:-/tmp}
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
# gcc >= 10 defaults to -fno-common, which Spread 4.4.0 (2014) does not link with
SPREAD_CFLAGS="-O2 -g -fcommon"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
exec 9>"$OUT/.build.lock"
flock 9 # one build per OUT at a time

t0=$(date +%s)
stamp="tarball=$(sha256sum "$SPREAD_TARBALL" | cut -d' ' -f1) socket_dir=$SOCKDIR cflags=$SPREAD_CFLAGS"
have_spread=1
for f in lib/libspread-core.a include/sp.h bin/spuser bin/spflooder sbin/spread; do
    [ -e "$OUT/$f" ] || have_spread=0
done
if [ "$force" = 0 ] && [ "$have_spread" = 1 ] && [ "$(cat "$OUT/.stamp-spread" 2>/dev/null)" = "$stamp" ]; then
    echo "build.sh: Spread 4.4.0 already built in $OUT (--force rebuilds)"
else
    echo "build.sh: building Spread 4.4.0 from $SPREAD_TARBALL into $OUT (log: $OUT/work/build.log)"
    # only what this script creates is removed
    rm -rf "$OUT/work" "$OUT/bin" "$OUT/sbin" "$OUT/lib" "$OUT/include" "$OUT/etc" "$OUT/share" "$OUT/man" "$OUT/socket-dir" "$OUT/.stamp-spread"
    mkdir -p "$OUT/work/src" "$OUT/work/obj"
    tar xzf "$SPREAD_TARBALL" -C "$OUT/work/src"
    src=$OUT/work/src
    if [ ! -x "$src/configure" ]; then # a tarball with a top-level directory
        src=$(dirname "$(find "$OUT/work/src" -maxdepth 2 -name configure -type f | head -1)")
    fi
    [ -x "$src/configure" ] || { echo "build.sh: no configure script in $SPREAD_TARBALL" >&2; exit 1; }
    log=$OUT/work/build.log
    if ! (cd "$OUT/work/obj" &&
        CFLAGS="$SPREAD_CFLAGS" "$src/configure" --prefix="$OUT" --with-unix-socket-dir="$SOCKDIR" &&
        make -j"$JOBS" &&
        make install) >"$log" 2>&1; then
        tail -25 "$log" >&2
        echo "build.sh: Spread build failed (full log: $log)" >&2
        exit 1
    fi
    ln -sf ../sbin/spread "$OUT/bin/spread"
    echo "$SOCKDIR" >"$OUT/socket-dir"
    echo "$stamp" >"$OUT/.stamp-spread"
    rm -f "$OUT/bin/spclient" # links the new library
fi

# spclient: statically linked with libspread-core.a; --wrap=connect lets it reach any Unix socket path
if [ "$force" = 1 ] || [ ! -x "$OUT/bin/spclient" ] || [ "$HERE/spclient.c" -nt "$OUT/bin/spclient" ] ||
    [ "$0" -nt "$OUT/bin/spclient" ] || [ "$OUT/lib/libspread-core.a" -nt "$OUT/bin/spclient" ]; then
    echo "build.sh: compiling spclient"
    gcc -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -DSPCLIENT_WRAP_CONNECT \
        -I"$OUT/include" -o "$OUT/bin/spclient.tmp" "$HERE/spclient.c" \
        -Wl,--wrap=connect "$OUT/lib/libspread-core.a" -lm -ldl -lpthread
    mv -f "$OUT/bin/spclient.tmp" "$OUT/bin/spclient"
else
    echo "build.sh: spclient up to date"
fi

echo "build.sh: done in $(($(date +%s) - t0)) s: $OUT/bin/spclient, $OUT/bin/spuser, $OUT/bin/spflooder, $OUT/sbin/spread, $OUT/lib/libspread-core.a, $OUT/include/sp.h (Unix sockets in $SOCKDIR)"

#!/usr/bin/env bash
# Compiles Spread 4.4.0's own Java client library (the package `spread`, from the java/ directory of
# the source tarball kept next to the benchmarks) and SpJClient (scripts/spread/java/SpJClient.java,
# a scriptable test client written against that library's public API), for comparison tests of
# chorusd's Spread client-protocol listener. See scripts/spread/README.md.
#
#   scripts/spread/build-java.sh [--force] [OUT]        OUT defaults to <repo>/.build-spread
#
# Result (prefix OUT/java):
#   spread.jar          Spread's Java library, unchanged (compiled from the tarball's java/spread/*.java)
#   spjclient.jar       SpJClient and the library (Main-Class SpJClient): java -jar OUT/java/spjclient.jar
#   spjclient           a wrapper: exec java -jar spjclient.jar "$@"
#   classes/            the .class files of both
# Scratch: OUT/java/src (the tarball's java/ directory), OUT/java/build.log (javac's notes).
#
# Environment: SPREAD_TARBALL (the tarball [<repo>/../shared/bench/spread/spread-src-4.4.0.tar.gz]),
# JAVAC, JAR, JAVA (the tools [javac, jar, java from PATH]; a JDK 11 or later: the library is
# compiled with --release 11).
#
# Offline, never writes outside OUT/java (and the lock file OUT/.build-java.lock). Idempotent: the
# library is recompiled only when missing, when the tarball changed, or with --force; SpJClient when
# SpJClient.java (or this script) is newer than its jar. Exits 0 with "SKIP: <reason>" when the
# tarball or javac is not there.
set -euo pipefail

SCRIPT=build-java.sh
# shellcheck source=scripts/spread/common.sh
. "$(cd "$(dirname "$0")" && pwd)/common.sh"

JAVAC=${JAVAC:-javac}
JAR=${JAR:-jar}
JAVA=${JAVA:-java}
if ! command -v "$JAVAC" >/dev/null; then
    echo "SKIP: no javac (a JDK) on PATH: Spread's Java library cannot be compiled"
    exit 0
fi
for tool in "$JAR" "$JAVA" tar sha256sum flock; do
    command -v "$tool" >/dev/null || { echo "build-java.sh: '$tool' is needed" >&2; exit 1; }
done

mkdir -p "$OUT/java"
OUT=$(cd "$OUT" && pwd)
J=$OUT/java
exec 9>"$OUT/.build-java.lock"
flock 9 # one build per OUT at a time

t0=$(date +%s)
log=$J/build.log
stamp="tarball=$(sha256sum "$SPREAD_TARBALL" | cut -d' ' -f1) javac=$("$JAVAC" -version 2>&1 | head -1)"
if [ "$force" = 0 ] && [ -f "$J/spread.jar" ] && [ -f "$J/classes/spread/SpreadConnection.class" ] &&
    [ "$(cat "$J/.stamp-library" 2>/dev/null)" = "$stamp" ]; then
    echo "build-java.sh: Spread's Java library already built in $J (--force rebuilds)"
else
    echo "build-java.sh: compiling Spread 4.4.0's Java library from $SPREAD_TARBALL into $J"
    # only what this script creates is removed
    rm -rf "$J/src" "$J/classes" "$J/spread.jar" "$J/spjclient.jar" "$J/spjclient" "$J/.stamp-library"
    mkdir -p "$J/src" "$J/classes"
    tar xzf "$SPREAD_TARBALL" -C "$J/src" --wildcards '*java/spread/*.java'
    lib=$(dirname "$(find "$J/src" -path '*java/spread/SpreadConnection.java' | head -1)")
    [ -f "$lib/SpreadConnection.java" ] || { echo "build-java.sh: no java/spread/SpreadConnection.java in $SPREAD_TARBALL" >&2; exit 1; }
    # 2014 code: raw Vectors, Class.newInstance (deprecated), and an unqualified yield() call, which
    # Java 14+ refuses as source: compiled as Java 11 (javac 11+ needed). The notes go to the log.
    if ! "$JAVAC" --release 11 -nowarn -encoding ISO-8859-1 -d "$J/classes" "$lib"/*.java >"$log" 2>&1; then
        cat "$log" >&2
        echo "build-java.sh: compiling Spread's Java library failed" >&2
        exit 1
    fi
    "$JAR" cf "$J/spread.jar" -C "$J/classes" spread
    echo "$stamp" >"$J/.stamp-library"
fi

if [ "$force" = 1 ] || [ ! -f "$J/spjclient.jar" ] || [ "$HERE/java/SpJClient.java" -nt "$J/spjclient.jar" ] ||
    [ "$0" -nt "$J/spjclient.jar" ] || [ "$J/spread.jar" -nt "$J/spjclient.jar" ]; then
    echo "build-java.sh: compiling SpJClient"
    rm -f "$J"/classes/SpJClient*.class
    if ! "$JAVAC" -Xlint:all -Xlint:-options -cp "$J/classes" -d "$J/classes" "$HERE/java/SpJClient.java" >>"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "build-java.sh: compiling SpJClient failed (log: $log)" >&2
        exit 1
    fi
    "$JAR" cfe "$J/spjclient.jar.tmp" SpJClient -C "$J/classes" .
    mv -f "$J/spjclient.jar.tmp" "$J/spjclient.jar"
    cat >"$J/spjclient" <<EOT
#!/bin/sh
# SpJClient (scripts/spread/java/SpJClient.java) with Spread 4.4.0's Java library; made by build-java.sh
exec "\${JAVA:-$(command -v "$JAVA")}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -jar "$J/spjclient.jar" "\$@"
EOT
    chmod +x "$J/spjclient"
else
    echo "build-java.sh: SpJClient up to date"
fi

echo "build-java.sh: done in $(($(date +%s) - t0)) s: $J/spjclient ($J/spjclient.jar), $J/spread.jar"

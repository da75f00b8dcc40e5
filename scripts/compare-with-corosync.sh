#!/bin/bash
# Measures Corosync CPG (the anchor in ../shared/anchors/corosync) and then Chorus on this
# machine in one run: 3 daemons, 3 senders, agreed 100/1000/10000 B, median of 3 runs each,
# then one-message-in-flight latency. Needs root, `apt-get install corosync libcpg-dev`, and
# `swift build -c release` done. Results: Corosync's summary table, then one line per Chorus run
# (msg/s per receiver, MB/s, latency p50 and p99 in µs).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/.." && pwd)
ANCHOR=${ANCHOR:-$HERE/../shared/anchors/corosync}
export ANCHOR_TMP=${ANCHOR_TMP:-/tmp/anchor}
CHORUS=${CHORUS:-$HERE/.build/release/chorus}
mkdir -p "$ANCHOR_TMP"

(cd "$ANCHOR" && make >/dev/null && ./cluster.sh start && MODES=all REPS=3 DUR=10 ./bench.sh "compare-$(date +%s)" throughput; ./cluster.sh stop) | tail -5

summary() { python3 -c 'import json,sys; d=json.load(sys.stdin); l=d["latencyMicros"]; print(round(d["msgPerSecPerReceiver"]), round(d["mbPerSecPerReceiver"], 1), round(l["p50"]), round(l["p99"]))'; }
for size in 100 1000 10000; do
    for rep in 1 2 3; do echo "chorus agreed $size B run $rep: $("$CHORUS" bench --size "$size" --duration 10 --json | summary)"; done
done
for rep in 1 2 3; do
    echo "chorus agreed 1000 B one in flight run $rep: $("$CHORUS" bench --size 1000 --duration 5 --in-flight 1 --json | summary)"
    echo "chorus safe 100 B one in flight run $rep: $("$CHORUS" bench --size 100 --service safe --duration 5 --in-flight 1 --json | summary)"
done

#!/usr/bin/env bash
# Fuzzes Chorus's decoders with libFuzzer (docs/fuzzing.md).
#
#   scripts/fuzz.sh [TARGET...]     RUNS executions of each target (default 1000000; all targets)
#   scripts/fuzz.sh --seeds         rewrites the committed seed inputs (Tests/ChorusFuzzTests/Corpus)
#
# New inputs go to .build-fuzz/corpus/TARGET; a crash is written to .build-fuzz/crash-TARGET-*:
# copy it to Tests/ChorusFuzzTests/Corpus/TARGET/crash-<what> once fixed, so every test run
# replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$PWD/Tests/ChorusFuzzTests/Corpus"

if [ "${1:-}" = "--seeds" ]; then
    CHORUS_WRITE_FUZZ_SEEDS="$corpus" swift test -c release -Xswiftc -enable-testing --filter "writeWireSeeds|writeSeeds"
    exit 0
fi

swift build -c release --scratch-path .build-fuzz --product chorus-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ring hop hop-message group wide-area client-frames daemon-frames config key-file sealed spread)
fi
for target in "${targets[@]}"; do
    mkdir -p ".build-fuzz/corpus/$target"
    echo "== $target"
    CHORUS_FUZZ_TARGET="$target" .build-fuzz/release/chorus-fuzz \
        -runs="${RUNS:-1000000}" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix=".build-fuzz/crash-$target-" ".build-fuzz/corpus/$target" "$corpus/$target" \
        2>&1 | tee ".build-fuzz/fuzz-$target.log" | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss|==[0-9]+==ERROR|SUMMARY|INFO: Running with)" || true
done

#!/usr/bin/env bash
# Fuzz one of Evident's untrusted-input readers with libFuzzer.
#
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
#   TARGET: onnx | nnet | vnnlib | vnnlib2 | png | certificate
#
# Builds `evident-fuzz` with `-sanitize=fuzzer,address` into .build-fuzz (about 8 minutes the
# first time), seeds a corpus in .build-fuzz/corpus/TARGET from the repository's own files and,
# when present, ../shared/benchmarks (for vnnlib2, the 2.0 conversions of those 1.0 properties by
# a built `evident vnnlib convert`, when there is one), then fuzzes for SECONDS on one core.
# Crashes, timeouts and out-of-memory inputs land in .build-fuzz/artifacts/TARGET/; each run
# appends a line with its executions to .build-fuzz/fuzz-log.csv. Replay a finding without the fuzzer:
#   swift run evident-fuzz TARGET FILE
# and keep it as a regression test in Tests/EvidentFuzzingTests/Fixtures/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh onnx|nnet|vnnlib|vnnlib2|png|certificate SECONDS [libFuzzer flags]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1; seconds=$2; shift 2
case "$target" in onnx|nnet|vnnlib|vnnlib2|png|certificate) ;; *) usage ;; esac
[[ "$seconds" =~ ^[0-9]+$ ]] || usage

# The Swift toolchain's ld.lld: the default gold linker fails on the sanitizer build.
swift build -c release --scratch-path .build-fuzz --product evident-fuzz \
  --toolset scripts/fuzz-toolset.json \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DEVIDENT_FUZZ \
  -Xcc -fsanitize=fuzzer-no-link,address >&2
binary=.build-fuzz/x86_64-unknown-linux-gnu/release/evident-fuzz

corpus=.build-fuzz/corpus/$target
artifacts=.build-fuzz/artifacts/$target
mkdir -p "$corpus" "$artifacts"
shared=../shared/benchmarks
seed() { for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$corpus/seed-$(basename "$f")"; done; return 0; }
shopt -s nullglob
case "$target" in
  onnx)        seed Tests/*/Fixtures/*.onnx Tests/*/Fixtures/*/*.onnx Networks/*/*.onnx "$shared"/test/*.onnx
               maxlen=65536 ;;
  nnet)        seed Tests/EvidentFuzzingTests/Fixtures/nnet/* "$shared"/acasxu/nnet/ACASXU_experimental_v2a_1_1.nnet
               maxlen=65536 ;;
  vnnlib)      seed Specs/*.vnnlib Tests/*/Fixtures/*.vnnlib "$shared"/test/*.vnnlib "$shared"/acasxu/*.vnnlib
               maxlen=16384 ;;
  vnnlib2)    # 2.0 queries in the shapes of the properties' models (4-D image and ACAS Xu
               # inputs); the hand-written queries covering every construct are the fixtures.
               evident=$(ls -t .build/release/evident .build/debug/evident 2>/dev/null | head -1 || true)
               convert() {  # MODEL PROPERTY...
                 local model=$1; shift
                 [ -n "$evident" ] && [ -f "$model" ] || return 0
                 for f in "$@"; do
                   out="$corpus/seed-2.0-$(basename "$(dirname "$f")")-$(basename "$f")"
                   [ -f "$f" ] && [ ! -f "$out" ] && { "$evident" vnnlib convert "$f" "$out" --model "$model" </dev/null >/dev/null || true; }
                 done
                 return 0
               }
               [ -n "$evident" ] || echo "fuzz vnnlib2: no .build/*/evident, so no 2.0 conversions of the 1.0 properties are seeded" >&2
               convert Networks/digits_resnet/digits_resnet.onnx Specs/digits_resnet_img2_eps0.01.vnnlib Specs/digits_resnet_img866_eps0.1.vnnlib
               convert "$shared"/acasxu/ACASXU_run2a_1_1_batch_2000.onnx "$shared"/acasxu/prop_*.vnnlib
               if [ -f "$shared"/test/test_instances.csv ]; then
                 while IFS=, read -r model property _; do convert "$shared/test/$model" "$shared/test/$property"; done < "$shared"/test/test_instances.csv
               fi
               maxlen=16384 ;;
  png)         seed Tests/*/Fixtures/*.png Docs/images/eva/compare-digits-test_1.png
               maxlen=65536 ;;
  certificate) seed Proofs/*.proof
               maxlen=65536 ;;
esac
# Earlier findings are seeds too, so a fixed bug stays fixed under mutation.
seed Tests/EvidentFuzzingTests/Fixtures/"$target"/*

log=.build-fuzz/fuzz-log.csv
[ -f "$log" ] || echo "date,target,seconds,executions,exit" > "$log"
output=.build-fuzz/last-$target.txt
set +e
started=$(date +%s)
EVIDENT_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0 "$binary" \
  -max_total_time="$seconds" -max_len="$maxlen" -rss_limit_mb=2048 -timeout=20 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" "$corpus" 2>&1 | tee "$output" | grep -E '^(#[0-9]+ +(pulse|DONE)|==|SUMMARY|stat::number_of_executed_units)' >&2
status=${PIPESTATUS[0]}
elapsed=$(( $(date +%s) - started ))
set -e
executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$output" | tail -1)
# The time fuzzed, which is less than SECONDS when a finding stops the run.
echo "$(date -u +%FT%TZ),$target,$elapsed,${executions:-0},$status" >> "$log"
echo "fuzz $target: ${executions:-0} executions in ${elapsed} s, exit $status; artifacts in $artifacts" >&2
exit "$status"

#!/usr/bin/env bash
# Fuzz one of Evident's untrusted-input readers with libFuzzer.
#
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags]
#   TARGET: onnx | nnet | vnnlib | png | certificate
#
# Builds `evident-fuzz` with `-sanitize=fuzzer,address` into .build-fuzz (about 8 minutes the
# first time), seeds a corpus in .build-fuzz/corpus/TARGET from the repository's own files and,
# when present, ../shared/benchmarks, then fuzzes for SECONDS on one core. Crashes, timeouts and
# out-of-memory inputs land in .build-fuzz/artifacts/TARGET/; each run appends a line with its
# executions to .build-fuzz/fuzz-log.csv. Replay a finding without the fuzzer:
#   swift run evident-fuzz TARGET FILE
# and keep it as a regression test in Tests/EvidentFuzzingTests/Fixtures/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/fuzz.sh onnx|nnet|vnnlib|png|certificate SECONDS [libFuzzer flags]" >&2; exit 2; }
[ $# -ge 2 ] || usage
target=$1; seconds=$2; shift 2
case "$target" in onnx|nnet|vnnlib|png|certificate) ;; *) usage ;; esac
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

#!/usr/bin/env bash
# Runs the soundness torture suite (Tests/EvidentTortureTests) in its full form, in release
# mode, and prints its summary: instances and verdict counts, wrong answers (which must be
# 0), tampered certificates rejected out of those that must be, and seconds.
#
#   scripts/torture.sh            # full form: EVIDENT_TORTURE=full
#   EVIDENT_TORTURE=ci scripts/torture.sh   # the reduced form that `swift test` runs
#
# Builds into .build-torture-release (override with SCRATCH=...). The full form draws 6,000
# differential instances, 800 planted counterexamples, 2,000 rounding-boundary and 1,000
# decimal-threshold instances and 3,000 certificate mutations; its tests take about 10
# minutes on two cores, the first release build about 16 more (Docs/Soundness.md has the
# figures of a run).
# Exits non-zero when any test fails. The summary lines also land in
# .build-torture-release/torture-summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch="${SCRATCH:-.build-torture-release}"
mode="${EVIDENT_TORTURE:-full}"
start=$(date +%s)
mkdir -p "$scratch"
summary="$scratch/torture-summary.txt"
: > "$summary"
status=0
# `swift test` builds too (`swift build -c release` cannot: the other test targets use
# testable imports, which only `swift test` enables in release mode).
EVIDENT_TORTURE="$mode" EVIDENT_TORTURE_REPORT="$PWD/$summary" \
  swift test -c release --scratch-path "$scratch" --filter EvidentTortureTests \
  > "$scratch/torture-log.txt" 2>&1 || status=$?
end=$(date +%s)
grep -E "✘|error:" "$scratch/torture-log.txt" | head -40 >&2 || true
echo "== soundness torture suite ($mode form, release)"
sed 's/^TORTURE //' "$summary"
echo "seconds: $((end - start)) (build included; the test lines above give each test's own time); exit status $status"
exit "$status"

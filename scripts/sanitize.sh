#!/usr/bin/env bash
# Runs the whole test suite once under AddressSanitizer and once under ThreadSanitizer.
#
#   scripts/sanitize.sh [address|thread]...     (default: both)
#
# Each sanitizer builds into its own folder (.build-asan, .build-tsan; a first build takes
# several minutes) and runs `swift test` there; a sanitizer report fails the run. The time
# of each run is printed at the end and appended to .build-sanitize-log.csv. The sanitizer
# runtimes come from the Swift toolchain (and libclang-rt-14-dev, installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ls /usr/lib/llvm-14/lib/clang/14*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y libclang-rt-14-dev >&2 || true
fi
export OPENBLAS_NUM_THREADS=1
# Reports fail the process; leak checking is off (the Swift runtime's caches look like leaks).
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:halt_on_error=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
sanitizers=("$@")
[ ${#sanitizers[@]} -gt 0 ] || sanitizers=(address thread)
log=.build-sanitize-log.csv
[ -f "$log" ] || echo "date,sanitizer,build_seconds,test_seconds,exit" > "$log"
summary=()
for sanitizer in "${sanitizers[@]}"; do
  case "$sanitizer" in address) folder=.build-asan ;; thread) folder=.build-tsan ;;
    *) echo "usage: scripts/sanitize.sh [address|thread]..." >&2; exit 2 ;; esac
  # Tells the tests the executables are instrumented (CommandRunner.swift trades `prlimit --as`,
  # which the sanitizers' shadow memory cannot live under, for a per-allocation cap).
  export EVIDENT_SANITIZER=$sanitizer
  start=$(date +%s)
  swift build --build-tests --sanitize="$sanitizer" --scratch-path "$folder" >&2
  built=$(date +%s)
  set +e
  swift test --skip-build --sanitize="$sanitizer" --scratch-path "$folder" 2>&1 | tee "$folder/test-output.txt" | tail -5 >&2
  status=${PIPESTATUS[0]}
  set -e
  if grep -q "Sanitizer" "$folder/test-output.txt"; then
    grep -m5 "Sanitizer" "$folder/test-output.txt" >&2
    [ "$status" -ne 0 ] || status=1
  fi
  done=$(date +%s)
  echo "$(date -u +%FT%TZ),$sanitizer,$((built - start)),$((done - built)),$status" >> "$log"
  summary+=("$sanitizer: build $((built - start)) s, tests $((done - built)) s, exit $status")
  [ "$status" -eq 0 ] || { printf '%s\n' "${summary[@]}" >&2; exit "$status"; }
done
printf '%s\n' "${summary[@]}" >&2

#!/usr/bin/env bash
# Runs the shared test/ and acasxu/ instances through prepare_instance.sh and
# run_instance.sh exactly as the VNN-COMP harness does (run_single_instance.sh and
# run_all_categories.sh of ChristopherBrix/vnncomp2023_benchmarks), then scores the results
# as the competition does (check_results.py --score) against ../shared/benchmarks/ground_truth.csv.
#
# Usage: scripts/vnncomp/harness-test.sh [CATEGORY ...]   (default: test acasxu)
# Environment: EVIDENT (the binary; default <repo>/.build/release/evident),
#   BENCHMARKS (default ../shared/benchmarks from the repository root),
#   TOLERANCE (seconds a run may exceed its timeout; default 60, the harness's kill margin),
#   INSTANCE_TIMEOUT (seconds) replaces every csv timeout, e.g. 0.5 with TOLERANCE=0 to
#   check that runs cut short end within the limit,
#   KEEP=1 keeps the work folder (always kept when the test fails).
# Per instance, as the harness: prepare_instance.sh under `timeout 600`; on exit 0 the
# results file is set to `no_result_in_file`, run_instance.sh runs under
# `timeout (TIMEOUT + 60)` and its wall time is measured; a non-zero exit gives
# `error_exit_code_N` (124: `run_instance_timeout`); else the first line of the results file
# without whitespace is the result, and for `sat` the lines after it are the counterexample
# file <category>/<onnx>_<vnnlib>.counterexample. After each category test_nano is run with
# timeout 120 (the harness's overhead measurement). Sat witnesses are also checked with the
# stricter scripts/check_witnesses.py (exact input bounds).
# Exit status: 0 when every check passes, 1 otherwise.
set -euo pipefail
HERE="$(cd "$(dirname "$(readlink -f "$0")")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
cd "$REPO"
BENCH="${BENCHMARKS:-../shared/benchmarks}"
TOLERANCE="${TOLERANCE:-60}"
PREPARE_TIMEOUT=600
KILL_MARGIN=60
if [ "$#" -gt 0 ]; then CATEGORIES=("$@"); else CATEGORIES=(test acasxu); fi
export EVIDENT="${EVIDENT:-$REPO/.build/release/evident}"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/evident-harness-test.XXXXXX")"
STATUS=1
# shellcheck disable=SC2317  # invoked by the EXIT trap
finish() {
    if [ "$STATUS" = 0 ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$WORK"
    else
        echo "work folder kept: $WORK"
    fi
}
trap finish EXIT

echo "evident: $EVIDENT"
echo "benchmarks: $BENCH (from $REPO)"
echo "work folder: $WORK"
RUNS="$WORK/runs.csv"          # category,kind,onnx,vnnlib,timeout,prepare_time,result,runtime,results_file,counterexample
HARNESS_CSV="$WORK/results.csv" # the competition's csv: category,onnx,vnnlib,prepare_time,result,runtime
echo "category,kind,onnx,vnnlib,timeout,prepare_time,result,runtime,results_file,counterexample" > "$RUNS"
: > "$HARNESS_CSV"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# run_one CATEGORY KIND ONNX VNNLIB TIMEOUT INDEX
run_one() {
    local cat="$1" kind="$2" onnx="$3" vnnlib="$4" timeout="$5" index="$6"
    local dir="$WORK/$cat" logs="$WORK/logs/$cat" out ce="" start end prep_time runtime=-1 code result
    mkdir -p "$dir" "$logs" "$WORK/counterexamples/$cat"
    out="$dir/$index.out.txt"
    start="$(now)"
    set +e
    timeout "$PREPARE_TIMEOUT" "$HERE/prepare_instance.sh" v1 "$cat" "$onnx" "$vnnlib" > "$logs/$index.prepare.log" 2>&1
    code=$?
    set -e
    end="$(now)"
    prep_time="$(elapsed "$start" "$end")"
    if [ "$code" != 0 ]; then
        result="prepare_instance_error_$code"
        [ "$code" = 124 ] && result="prepare_instance_timeout"
    else
        echo "no_result_in_file" > "$out"
        start="$(now)"
        set +e
        timeout "$(awk -v t="$timeout" -v m="$KILL_MARGIN" 'BEGIN { print t + m }')" \
            "$HERE/run_instance.sh" v1 "$cat" "$onnx" "$vnnlib" "$out" "$timeout" > "$logs/$index.run.log" 2>&1
        code=$?
        set -e
        end="$(now)"
        runtime="$(elapsed "$start" "$end")"
        if [ "$code" != 0 ]; then
            result="error_exit_code_$code"
            [ "$code" = 124 ] && result="run_instance_timeout"
        else
            sed -i 's/^sat (/sat\n(/g' "$out"
            result="$(head -n 1 "$out")"
            result="${result//[[:space:]]/}"
            if [ "$result" = sat ]; then
                ce="$WORK/counterexamples/$cat/$(basename "${onnx%.gz}" .onnx)_$(basename "${vnnlib%.gz}" .vnnlib).counterexample"
                tail --lines=+2 "$out" > "$ce"
            elif [ -z "$result" ]; then
                result="no_result_in_file"
            fi
        fi
    fi
    printf '%s,%s,%s,%s,%s,%s\n' "$cat" "$onnx" "$vnnlib" "$prep_time" "$result" "$runtime" >> "$HARNESS_CSV"
    printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$cat" "$kind" "$onnx" "$vnnlib" "$timeout" "$prep_time" \
        "$result" "$runtime" "$out" "$ce" >> "$RUNS"
    printf '  %-9s %-40s %-16s %-24s %8ss (timeout %s s, prepare %s s)\n' "$cat" "$(basename "$onnx")" \
        "$(basename "$vnnlib")" "$result" "$runtime" "$timeout" "$prep_time"
}

for cat in "${CATEGORIES[@]}"; do
    csv="$BENCH/$cat/instances.csv"
    [ "$cat" = test ] && csv="$BENCH/test/test_instances.csv"
    [ -f "$csv" ] || { echo "instances file not found: $csv" >&2; exit 1; }
    echo "category $cat ($csv)"
    i=0
    while IFS=, read -r onnx vnnlib timeout_cr || [ -n "${onnx:-}" ]; do
        [ -n "$onnx" ] || continue
        i=$((i + 1))
        timeout="${timeout_cr//$'\r'/}"
        run_one "$cat" instance "$BENCH/$cat/$onnx" "$BENCH/$cat/$vnnlib" "${INSTANCE_TIMEOUT:-$timeout}" "$i"
    done < "$csv"
    run_one "$cat" overhead "$BENCH/test/test_nano.onnx" "$BENCH/test/test_nano.vnnlib" 120 overhead
done

set +e
python3 "$HERE/check_results.py" --score "$RUNS" --ground-truth "$BENCH/ground_truth.csv" \
    --benchmarks "$BENCH" --tolerance "$TOLERANCE"
score=$?
set -e

# The stricter independent check of the project (exact input bounds) on every sat witness.
strict=0
mapfile -t sat_rows < <(awk -F, 'NR > 1 && $2 == "instance" && $7 == "sat" { print $3 "," $4 "," $9 }' "$RUNS")
if [ "${#sat_rows[@]}" -gt 0 ]; then
    args=()
    for row in "${sat_rows[@]}"; do
        IFS=, read -r onnx vnnlib file <<< "$row"
        args+=("$onnx" "$vnnlib" "$file")
    done
    echo "scripts/check_witnesses.py on ${#sat_rows[@]} sat results:"
    set +e
    python3 "$REPO/scripts/check_witnesses.py" "${args[@]}" > "$WORK/check_witnesses.log" 2>&1
    strict=$?
    set -e
    echo "  $(grep -c '^ok' "$WORK/check_witnesses.log" || true) ok, $(grep -c '^FAIL' "$WORK/check_witnesses.log" || true) failed"
    [ "$strict" = 0 ] || { echo "check_witnesses.py FAILED (see $WORK/check_witnesses.log)"; }
fi

if [ "$score" = 0 ] && [ "$strict" = 0 ]; then
    STATUS=0
    echo "harness test PASSED"
else
    echo "harness test FAILED"
fi
exit "$STATUS"

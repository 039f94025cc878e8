#!/usr/bin/env bash
# Runs `evident campaign` over an instance list (default: the 70 shared ground-truth
# instances), kills it with SIGKILL once half the rows are written, runs the same command
# again, and checks that the results file then holds every instance exactly once.
# Usage: scripts/campaign-kill-resume.sh [INSTANCES.csv] [OUT.csv]; EVIDENT overrides the
# binary (default .build/release/evident). Prints both runs' summaries; exits 1 on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
CSV="${1:-../shared/benchmarks/ground_truth.csv}"
OUT="${2:-$(mktemp -d)/results.csv}"
EVIDENT="${EVIDENT:-.build/release/evident}"
rm -f "$OUT"
total=$(python3 -c 'import sys, csv; rows = [r for r in csv.reader(open(sys.argv[1])) if r]; print(len(rows) - (1 if "onnx" in [c.strip().lower() for c in rows[0]] else 0))' "$CSV")
half=$((total / 2))
start=$(date +%s)
"$EVIDENT" campaign "$CSV" --out "$OUT" --quiet > /dev/null 2>&1 &
pid=$!
rows() { [ -f "$OUT" ] && python3 -c 'import sys, csv; print(max(0, len(list(csv.reader(open(sys.argv[1])))) - 1))' "$OUT" || echo 0; }
while [ "$(rows)" -lt "$half" ] && kill -0 "$pid" 2> /dev/null; do sleep 0.5; done
kill -9 "$pid" 2> /dev/null || true
wait "$pid" 2> /dev/null || true
echo "killed with SIGKILL after $(( $(date +%s) - start )) s, $(rows) of $total rows in $OUT"
set +e
"$EVIDENT" campaign "$CSV" --out "$OUT"
status=$?
set -e
echo "second run exited with $status after $(( $(date +%s) - start )) s in all"
python3 - "$OUT" "$total" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
indices = sorted(int(r["index"]) for r in rows)
total = int(sys.argv[2])
ok = indices == list(range(total))
print(f"{len(rows)} rows, {len(set(indices))} distinct indices of {total}: " + ("every instance exactly once" if ok else "MISMATCH"))
sys.exit(0 if ok else 1)
PY

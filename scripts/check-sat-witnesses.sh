#!/usr/bin/env bash
# Runs `evident verify --results` on every `sat` row of ../shared/benchmarks/ground_truth.csv
# (or of the csv given as $1: family,onnx,vnnlib,timeout,result,...) and checks each witness
# with scripts/check_witnesses.py (onnxruntime, the competition's tolerances), independently
# of Evident's own evaluator. Needs a release build (EVIDENT=path to override) and numpy,
# onnx, onnxruntime. Exits 1 if any sat row is not answered sat or a witness fails.
set -euo pipefail
cd "$(dirname "$0")/.."
CSV="${1:-../shared/benchmarks/ground_truth.csv}"
ROOT="$(dirname "$CSV")"
EVIDENT="${EVIDENT:-.build/release/evident}"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
args=()
missed=0
k=0
while IFS=, read -r family onnx vnnlib timeout result _; do
    [ "$result" = "sat" ] || continue
    k=$((k + 1))
    set +e
    "$EVIDENT" verify "$ROOT/$onnx" "$ROOT/$vnnlib" --timeout "$timeout" --results "$OUT/$k.txt" > "$OUT/$k.log"
    set -e
    verdict="$(head -1 "$OUT/$k.log")"
    echo "$family $(basename "$onnx") $(basename "$vnnlib"): $verdict"
    if [ "$verdict" = "sat" ]; then
        args+=("$ROOT/$onnx" "$ROOT/$vnnlib" "$OUT/$k.txt")
    else
        missed=$((missed + 1))
    fi
done < <(tail -n +2 "$CSV")
echo "$k sat rows, $missed not answered sat"
python3 scripts/check_witnesses.py "${args[@]}"
[ "$missed" -eq 0 ]

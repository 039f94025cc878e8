#!/usr/bin/env bash
# For each resnet_2b property of ../shared/benchmarks that `evident verify` proves by CROWN
# alone, compares the checker's time on its certificate (`evident check`, bound work only)
# with the engine's CROWN time on the same property (`evident bounds --method crown`).
# Needs a release build (EVIDENT=path to override).
set -euo pipefail
cd "$(dirname "$0")/.."
EVIDENT="${EVIDENT:-.build/release/evident}"
B=../shared/benchmarks/cifar10_resnet
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT
seconds() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d.get('seconds', d.get('statistics', {}).get('seconds')))"; }
for f in "$B"/vnnlib/*.vnnlib; do
    name="$(basename "$f" .vnnlib)"
    method="$("$EVIDENT" verify "$B/onnx/resnet_2b.onnx" "$f" --timeout 10 --certificate "$OUT/$name.proof" --json \
              | python3 -c "import json,sys; print(json.load(sys.stdin)['method'])" || true)"
    [ "$method" = "CROWN" ] || continue
    crown="$("$EVIDENT" bounds "$B/onnx/resnet_2b.onnx" "$f" --method crown --json | seconds)"
    check="$("$EVIDENT" check "$OUT/$name.proof" --json | seconds)"
    python3 -c "print('%-24s CROWN %.3f s  check %.3f s  ratio %.2f  %d bytes' % ('$name', $crown, $check, $check / $crown, $(stat -c %s "$OUT/$name.proof")))"
done

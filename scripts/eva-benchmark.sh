#!/usr/bin/env bash
# Regenerates the metric tables of Docs/eva.md (release build): EVA and the seven baselines
# on the shipped network's 16 test inputs (pixels, radius 0.02) and on the images at the
# centres of the 16 shared CIFAR properties (resnet_2b, 8x8 patches, each property's box as
# B; needs ../shared/benchmarks). Tables go to Docs/eva-benchmark/{digits,cifar}/, two
# side-by-side pictures each to Docs/images/eva/. EVIDENT=path overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
EVIDENT="${EVIDENT:-.build/release/evident}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p Docs/eva-benchmark/digits Docs/eva-benchmark/cifar Docs/images/eva
"$EVIDENT" eva-benchmark Networks/digits_resnet/digits_resnet.onnx Networks/digits_resnet/test_inputs/test_*.txt \
    --epsilon 0.02 --clip 0,1 --features pixels --out "$TMP/digits"
cp "$TMP/digits/table.md" "$TMP/digits/table.csv" Docs/eva-benchmark/digits/
cp "$TMP/digits/pictures/test_1.png" Docs/images/eva/compare-digits-test_1.png
B=../shared/benchmarks/cifar10_resnet
if [ -d "$B" ]; then
    "$EVIDENT" eva-benchmark "$B/onnx/resnet_2b.onnx" "$B"/vnnlib/*.vnnlib --features grid:8 --out "$TMP/cifar"
    cp "$TMP/cifar/table.md" "$TMP/cifar/table.csv" Docs/eva-benchmark/cifar/
    cp "$TMP/cifar/pictures/prop_0_eps_0.008.png" Docs/images/eva/compare-cifar-prop_0.png
else
    echo "../shared/benchmarks is missing: the CIFAR table was not regenerated"
fi

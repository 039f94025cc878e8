#!/usr/bin/env bash
# Regenerates the pictures of Docs/eva.md with the tool itself (release build): EVA maps of
# the shipped network's example digit, and of the images at the centres of shared CIFAR
# properties (needs ../shared/benchmarks beside the checkout). EVIDENT=path overrides the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
EVIDENT="${EVIDENT:-.build/release/evident}"
OUT=Docs/images/eva
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
map() {  # name, then evident eva arguments
    local name="$1"; shift
    "$EVIDENT" eva "$@" --out "$TMP/$name" > "$TMP/$name.txt"
    cp "$TMP/$name/heatmap.png" "$OUT/$name.png"
    cp "$TMP/$name/heatmap.svg" "$OUT/$name.svg"
    echo "$name: $(head -1 "$TMP/$name.txt" | tr -d '\n'); $(grep '^AO' "$TMP/$name.txt"); $(grep '^time' "$TMP/$name.txt")"
}
NET=Networks/digits_resnet/digits_resnet.onnx
map digits-pixels "$NET" --input Networks/digits_resnet/example_input.txt --epsilon 0.02 --features pixels
map digits-pixels-reuse "$NET" --input Networks/digits_resnet/example_input.txt --epsilon 0.02 --features pixels --mode reuse
B=../shared/benchmarks/cifar10_resnet
if [ -d "$B" ]; then
    for p in 0 1 2; do
        map "resnet2b-prop$p-grid8" "$B/onnx/resnet_2b.onnx" --center "$B/vnnlib/prop_${p}_eps_0.008.vnnlib" --features grid:8
        map "resnet2b-prop$p-pixels" "$B/onnx/resnet_2b.onnx" --center "$B/vnnlib/prop_${p}_eps_0.008.vnnlib" --features pixels
    done
    map resnet2b-prop0-superpixels "$B/onnx/resnet_2b.onnx" --center "$B/vnnlib/prop_0_eps_0.008.vnnlib" --features superpixels:40
    map resnet2b-prop0-grid8-reuse "$B/onnx/resnet_2b.onnx" --center "$B/vnnlib/prop_0_eps_0.008.vnnlib" --features grid:8 --mode reuse
    map resnet2b-prop0-grid8-alpha "$B/onnx/resnet_2b.onnx" --center "$B/vnnlib/prop_0_eps_0.008.vnnlib" --features grid:8 --method alpha-crown
else
    echo "../shared/benchmarks is missing: the CIFAR pictures were not regenerated"
fi

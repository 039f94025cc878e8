#!/usr/bin/env bash
# One command on a fresh Debian machine: install the system libraries, build Evident in
# release mode, and run the main job on the network shipped in Networks/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! dpkg -s libglpk-dev libopenblas-dev zlib1g-dev libpng-dev >/dev/null 2>&1; then
    $SUDO apt-get update
    $SUDO apt-get install -y libglpk-dev libopenblas-dev zlib1g-dev libpng-dev
fi
swift build -c release --product evident
EVIDENT=.build/release/evident
NET=Networks/digits_resnet/digits_resnet.onnx
echo "== evident info $NET"
$EVIDENT info "$NET"
echo "== evident eval $NET --input Networks/digits_resnet/example_input.txt (label: $(cat Networks/digits_resnet/example_label.txt))"
$EVIDENT eval "$NET" --input Networks/digits_resnet/example_input.txt
echo "== evident bounds $NET Specs/digits_resnet_img2_eps0.01.vnnlib --method crown"
$EVIDENT bounds "$NET" Specs/digits_resnet_img2_eps0.01.vnnlib --method crown
echo "== evident verify $NET Specs/digits_resnet_img2_eps0.02.vnnlib --certificate /tmp/evident-img2.proof"
$EVIDENT verify "$NET" Specs/digits_resnet_img2_eps0.02.vnnlib --timeout 60 --certificate /tmp/evident-img2.proof || true
echo "== evident verify $NET Specs/digits_resnet_img866_eps0.1.vnnlib --witness /tmp/evident-img866.counterexample"
$EVIDENT verify "$NET" Specs/digits_resnet_img866_eps0.1.vnnlib --timeout 60 --witness /tmp/evident-img866.counterexample \
    --certificate /tmp/evident-img866.proof || true
echo "== evident eva $NET --input Networks/digits_resnet/example_input.txt --epsilon 0.02 --features pixels --out /tmp/evident-eva"
echo "   (which pixels the decision provably depends on: /tmp/evident-eva/heatmap.png, scores.json, eva.proof)"
$EVIDENT eva "$NET" --input Networks/digits_resnet/example_input.txt --epsilon 0.02 --features pixels --out /tmp/evident-eva
echo "== evident check /tmp/evident-img2.proof and /tmp/evident-eva/eva.proof, then every saved proof in Proofs/"
$EVIDENT check /tmp/evident-img2.proof
$EVIDENT check /tmp/evident-eva/eva.proof
$EVIDENT check Proofs/

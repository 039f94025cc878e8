#!/usr/bin/env bash
# Regenerates Proofs/: runs `evident verify` on every instance of Specs/instances.csv and on
# the VNN-LIB 2.0 queries of Specs/queries/ (network `f` = the shipped digits classifier), and
# keeps the certificate of each sat or unsat answer, then writes Proofs/manifest.csv, which
# `evident check Proofs/` (and CI) re-checks. Run from anywhere; builds in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product evident
EVIDENT=.build/release/evident
rm -f Proofs/*.proof
echo "certificate,model,property" > Proofs/manifest.csv
while IFS=, read -r model property timeout; do
    name="$(basename "$property" .vnnlib)"
    set +e
    "$EVIDENT" verify "$model" "$property" --timeout 30 --certificate "Proofs/$name.proof" > "/tmp/make-proofs-$name.txt"
    status=$?
    set -e
    verdict="$(head -1 "/tmp/make-proofs-$name.txt")"
    echo "$name: $verdict"
    if [ "$status" -eq 0 ] || [ "$status" -eq 10 ]; then
        echo "$name.proof,../$model,../$property" >> Proofs/manifest.csv
    fi
done < Specs/instances.csv
# The VNN-LIB 2.0 queries of Specs/queries/, through the standard's interface.
for query in Specs/queries/*.vnnlib; do
    name="$(basename "$query" .vnnlib)"
    set +e
    "$EVIDENT" verify "$query" --network f=Networks/digits_resnet/digits_resnet.onnx --timeout 60 \
        --certificate "Proofs/$name.proof" > "/tmp/make-proofs-$name.txt"
    status=$?
    set -e
    echo "$name: $(head -1 "/tmp/make-proofs-$name.txt")"
    if [ "$status" -eq 0 ] || [ "$status" -eq 10 ]; then
        echo "$name.proof,../Networks/digits_resnet/digits_resnet.onnx,../$query" >> Proofs/manifest.csv
    fi
done
"$EVIDENT" check Proofs/

#!/usr/bin/env bash
# VNN-COMP prepare_instance.sh: prepare_instance.sh v1 CATEGORY ONNX VNNLIB
#
# Called by the harness before each instance. Ends evident processes left over from earlier
# instances (those that run_instance.sh recorded; nothing is killed by name), checks that
# the verifier, the network and the property exist, and that both load (`evident info`;
# `.onnx.gz` and `.vnnlib.gz` are read by Evident itself). Does no analysis.
# Exit status: 0 when ready; 1 otherwise (the harness then records prepare_instance_error).
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "$(readlink -f "$0")")/common.sh"

check_version "${1:-}"
[ "$#" -eq 4 ] || fail "expected 4 arguments: v1 CATEGORY ONNX VNNLIB (got $#)"
CATEGORY="$2"
ONNX="$3"
VNNLIB="$4"

log "category '$CATEGORY', onnx '$ONNX', vnnlib '$VNNLIB'"
kill_leftovers

[ -x "$EVIDENT" ] || fail "evident binary not found or not executable: $EVIDENT (set EVIDENT or run install_tool.sh)"
for f in "$ONNX" "$VNNLIB"; do
    [ -f "$f" ] || fail "file not found: $f"
    [ -r "$f" ] || fail "file not readable: $f"
    [ -s "$f" ] || fail "file is empty: $f"
done
for f in "$ONNX" "$VNNLIB"; do
    if ! "$EVIDENT" info "$f" > /dev/null; then
        fail "evident cannot load $f"
    fi
done
log "ready"

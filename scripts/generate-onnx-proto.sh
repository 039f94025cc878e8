#!/usr/bin/env bash
# Regenerates Sources/EvidentONNX/Generated/onnx.pb.swift from the ONNX schema.
#
# Inputs:
#   - onnx.proto from the pip `onnx` package (the proto2 schema ONNX itself compiles;
#     override with ONNX_PROTO=/path/to/onnx.proto),
#   - protoc (Debian: protobuf-compiler),
#   - protoc-gen-swift built from apple/swift-protobuf at the version Package.swift pins
#     exactly (1.39.0). It is built outside the repository; point PROTOC_GEN_SWIFT at an
#     existing binary to skip the build.
#
# Usage: scripts/generate-onnx-proto.sh
set -euo pipefail

SWIFT_PROTOBUF_VERSION="1.39.0"
SWIFT_PROTOBUF_URL="${SWIFT_PROTOBUF_URL:-https://github.com/apple/swift-protobuf.git}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="$REPO_ROOT/Sources/EvidentONNX/Generated"

if [[ -z "${ONNX_PROTO:-}" ]]; then
    ONNX_DIR="$(python3 -c 'import onnx, os; print(os.path.dirname(onnx.__file__))')"
    ONNX_PROTO="$ONNX_DIR/onnx.proto"
fi
[[ -f "$ONNX_PROTO" ]] || { echo "error: $ONNX_PROTO not found" >&2; exit 1; }
command -v protoc >/dev/null || { echo "error: protoc not found (apt-get install protobuf-compiler)" >&2; exit 1; }

if [[ -z "${PROTOC_GEN_SWIFT:-}" ]]; then
    BUILD_DIR="${TMPDIR:-/tmp}/swift-protobuf-$SWIFT_PROTOBUF_VERSION"
    if [[ ! -d "$BUILD_DIR" ]]; then
        git clone --quiet --branch "$SWIFT_PROTOBUF_VERSION" --depth 1 "$SWIFT_PROTOBUF_URL" "$BUILD_DIR"
    fi
    (cd "$BUILD_DIR" && swift build -c release --product protoc-gen-swift >&2)
    PROTOC_GEN_SWIFT="$BUILD_DIR/.build/release/protoc-gen-swift"
fi

PROTO_DIR="$(cd "$(dirname "$ONNX_PROTO")" && pwd)"
protoc --plugin=protoc-gen-swift="$PROTOC_GEN_SWIFT" \
       --swift_out="$OUT_DIR" \
       --swift_opt=Visibility=Internal \
       --proto_path="$PROTO_DIR" \
       "$PROTO_DIR/$(basename "$ONNX_PROTO")"

ONNX_VERSION="$(python3 -c 'import onnx; print(onnx.__version__)' 2>/dev/null || echo unknown)"
echo "wrote $OUT_DIR/onnx.pb.swift (onnx $ONNX_VERSION schema, protoc-gen-swift $SWIFT_PROTOBUF_VERSION)"

#!/usr/bin/env bash
# Regenerates the measured tables of Docs/Performance.md: builds evident-bench in release
# mode and runs the architecture sweep, which rewrites the section between
# <!-- sweep:begin --> and <!-- sweep:end -->. Takes several minutes on 2 cores; run it on
# an otherwise idle machine (figures of a busy one are not comparable).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product evident-bench
.build/release/evident-bench sweep --markdown Docs/Performance.md "$@"

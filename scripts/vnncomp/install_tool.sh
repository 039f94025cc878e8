#!/usr/bin/env bash
# VNN-COMP install_tool.sh: install_tool.sh v1
#
# Run once on a fresh Ubuntu/Debian machine: installs the libraries Evident links against
# (apt; through sudo unless run as root) and builds the release binary
# `<repo>/.build/release/evident` with `swift build -c release --product evident` in the
# repository root. Swift itself must already be installed (on PATH): the script stops with
# an error if it is not.
# EVIDENT_INSTALL_DRY_RUN=1 prints the commands instead of running them.
set -euo pipefail
# shellcheck source=common.sh source-path=SCRIPTDIR
source "$(dirname "$(readlink -f "$0")")/common.sh"

check_version "${1:-}"

APT_PACKAGES=(libglpk-dev libopenblas-dev zlib1g-dev libpng-dev)
if [ "$(id -u)" = 0 ]; then SUDO=(); else SUDO=(sudo); fi

run() {
    log "+ $*"
    if [ "${EVIDENT_INSTALL_DRY_RUN:-0}" != 1 ]; then
        "$@"
    fi
}

if ! command -v swift > /dev/null 2>&1; then
    fail "swift not found on PATH: install a Swift toolchain (swift.org) first, then rerun"
fi
log "repository: $REPO_ROOT"
run swift --version

export DEBIAN_FRONTEND=noninteractive
run "${SUDO[@]}" apt-get update
run "${SUDO[@]}" apt-get install -y "${APT_PACKAGES[@]}"

cd "$REPO_ROOT"
run swift build -c release --product evident
BINARY="$REPO_ROOT/.build/release/evident"
if [ "${EVIDENT_INSTALL_DRY_RUN:-0}" != 1 ]; then
    [ -x "$BINARY" ] || fail "the build did not produce $BINARY"
    "$BINARY" --help > /dev/null || fail "$BINARY does not run"
fi
log "installed: $BINARY"

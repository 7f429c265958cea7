#!/usr/bin/env bash
# Builds the console into frontend/dist/ (release, wasm-opt -Oz), installing the tools it needs
# first when they are missing (tests/tools/console-tools.sh). Offline: nothing is downloaded
# beyond the package registries the tool installs use. Extra arguments go to `trunk build`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../tests/tools/console-tools.sh
source "$HERE/../tests/tools/console-tools.sh"
cd "$HERE"
trunk build --release --offline --skip-version-check --locked "$@" >&2
echo "$HERE/dist"

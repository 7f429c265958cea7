#!/usr/bin/env bash
# Provisions what building and browser-testing the console needs, skipping whatever is already
# there, and prints nothing but progress on stderr:
#   - the wasm32-unknown-unknown Rust target;
#   - trunk 0.21.14 and wasm-bindgen-cli (the version Cargo.lock pins) in .tools/bin;
#   - wasm-opt (npm's binaryen 132; Debian's is too old for rustc 1.95 output) in .tools/npm;
#   - chromium and chromium-driver from apt when BROWSER=1 (tests/tools/browser.sh).
# Cold, the two cargo installs dominate (about 6 and 2 minutes on 2 cores); warm, it takes
# well under a second. Source it or run it; it exports PATH for what it installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.tools"
TRUNK_VERSION="0.21.14"
BINARYEN_VERSION="132.0.0"
WASM_BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' "$ROOT/Cargo.lock")"
if [[ -z "$WASM_BINDGEN_VERSION" ]]; then
    echo "console-tools: Cargo.lock pins no wasm-bindgen" >&2
    exit 1
fi

log() { echo "console-tools: $*" >&2; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    log "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown >&2
fi

if ! "$TOOLS/bin/trunk" --version 2>/dev/null | grep -q "trunk $TRUNK_VERSION"; then
    log "installing trunk $TRUNK_VERSION into $TOOLS (about 6 min cold)"
    cargo install --locked --quiet "trunk@$TRUNK_VERSION" --root "$TOOLS" >&2
fi

if ! "$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | grep -q "wasm-bindgen $WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION into $TOOLS (about 2 min cold)"
    # wasm-bindgen-cli's own lock file does not build on every toolchain; its published ranges do.
    cargo install --quiet --force "wasm-bindgen-cli@$WASM_BINDGEN_VERSION" --root "$TOOLS" >&2
fi

if ! "$TOOLS/npm/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
    log "installing binaryen $BINARYEN_VERSION (wasm-opt) from npm into $TOOLS/npm"
    mkdir -p "$TOOLS/npm"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS/npm" "binaryen@$BINARYEN_VERSION" >&2
fi

if [[ "${BROWSER:-0}" == "1" ]]; then
    bash "$ROOT/tests/tools/browser.sh"
fi

export PATH="$TOOLS/bin:$TOOLS/npm/node_modules/.bin:$PATH"

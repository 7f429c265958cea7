#!/usr/bin/env bash
# Prints what the built console is made from, one line each, in a stable order:
#   dep  <name> v<version>        every crate the console's wasm build compiles (Cargo.lock)
#   file <sha256> <path>          every source file of the console and of the workspace crates it
#                                 compiles, and the files that say how it is built
# `frontend/build.sh` records this in `frontend/bundle/SOURCES` beside the bundle it checks in;
# the test suite (`tests/tests/console_bundle.rs`) runs it again and fails when the two differ,
# i.e. when the checked-in bundle was not rebuilt after a change. Needs cargo (offline is fine
# once the crates are fetched).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

tree="$(cargo tree --quiet --locked -p cavra-console --target wasm32-unknown-unknown \
    -e normal,build --prefix none -f '{p}')"

# Registry crates: name and version (the lock file pins their contents).
grep -v ' (/' <<<"$tree" | sed 's/ (\*)$//' | sort -u | sed 's/^/dep  /'

{
    # Workspace crates the build compiles: their manifests and sources.
    sed -n 's/^.* (\(\/[^)]*\)).*$/\1/p' <<<"$tree" | sort -u | while read -r dir; do
        rel="${dir#"$ROOT"/}"
        for f in "$rel/Cargo.toml" "$rel/build.rs"; do [[ -f "$f" ]] && echo "$f"; done
        # (test-only modules and snapshots are not part of a wasm build)
        find "$rel/src" -type f -not -name '*tests.rs' -not -path '*/snapshots/*'
    done
    # How the console is built.
    printf '%s\n' frontend/index.html frontend/style.css frontend/config.json \
        frontend/Trunk.toml frontend/build.sh tests/tools/console-tools.sh
} | LC_ALL=C sort -u | while read -r f; do
    echo "file $(sha256sum "$f" | cut -d' ' -f1) $f"
done

# The profiles the console is built with (`console` inherits `release`).
awk '/^\[profile\.(console|release)\]/ {on = 1; print; next} /^\[/ {on = 0} on && NF && !/^#/' Cargo.toml |
    sed 's/^/profile /'

#!/usr/bin/env bash
# Installs cargo-lambda (from PyPI, into the project's tool virtualenv .venv-tools) unless it is
# already there, and prints the path of its executable. Used by the Lambda end-to-end tests and
# by anyone who wants `cargo lambda watch` / `cargo lambda build` without a global install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-tools"
VERSION="1.9.2"

if [[ ! -x "$VENV/bin/cargo-lambda" ]]; then
    echo "installing cargo-lambda $VERSION into $VENV (about 10 s)" >&2
    [[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "cargo-lambda==$VERSION" >&2
fi
echo "$VENV/bin/cargo-lambda"

#!/usr/bin/env bash
# Installs schemathesis (from PyPI, into the project's tool virtualenv .venv-tools) unless the
# pinned version is already there, and prints the path of its `st` executable. Used by
# tests/tests/schemathesis.rs, which fuzzes `cavra serve` against infra/openapi.yaml, and by
# anyone who wants to run it by hand:
#   "$(bash tests/tools/schemathesis.sh)" run infra/openapi.yaml --url http://127.0.0.1:8787
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$ROOT/.venv-tools"
VERSION="4.32.5"

installed() {
    [[ -x "$VENV/bin/st" ]] &&
        [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" == "$VERSION" ]]
}

if ! installed; then
    # One install at a time (test binaries may run in parallel, e.g. under nextest).
    mkdir -p "$VENV"
    exec 9>"$VENV/.schemathesis-install.lock"
    flock 9
    if ! installed; then
        echo "installing schemathesis $VERSION into $VENV (about 20 s)" >&2
        [[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
    fi
fi
echo "$VENV/bin/st"

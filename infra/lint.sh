#!/usr/bin/env bash
# Lints the deployment files offline:
#   - infra/template.yaml with cfn-lint (SAM resources validated against their schemas),
#     informational findings included: the template is kept free of all of them;
#   - infra/openapi.yaml with openapi-spec-validator (the OpenAPI 3.1 meta-schema).
# Installs both into the project venv .venv-tools when missing, so a fresh machine (and
# .ci/run) needs only python3 and PyPI. Exits non-zero when either tool finds anything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-tools"
CFN_LINT="$VENV/bin/cfn-lint"
OPENAPI_LINT="$VENV/bin/openapi-spec-validator"

if [[ ! -x "$CFN_LINT" || ! -x "$OPENAPI_LINT" ]]; then
    echo "installing cfn-lint and openapi-spec-validator into $VENV" >&2
    [[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        'cfn-lint>=1.20' 'openapi-spec-validator>=0.7' >&2
fi

echo "cfn-lint $("$CFN_LINT" --version | awk '{print $2}'): infra/template.yaml"
"$CFN_LINT" --include-checks I --non-zero-exit-code informational -- "$ROOT/infra/template.yaml"

echo "openapi-spec-validator: infra/openapi.yaml"
"$OPENAPI_LINT" "$ROOT/infra/openapi.yaml"

#!/usr/bin/env bash
# Provisions the HTTP load generator the serve_load benchmark drives `cavra serve` with: wrk
# from Debian, skipped when present.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" wrk=wrk

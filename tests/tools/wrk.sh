#!/usr/bin/env bash
# Provisions the HTTP load generator the serve_load benchmark drives `cavra serve` with: wrk
# from Debian (apt-get), skipped when present. Progress goes to stderr.
set -euo pipefail

if command -v wrk >/dev/null; then
    exit 0
fi
echo "wrk: installing wrk with apt-get" >&2
if [[ "$(id -u)" != "0" ]]; then
    echo "wrk: apt-get needs root: install wrk yourself" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq wrk >&2 || { apt-get update -qq >&2 && apt-get install -y -qq wrk >&2; }

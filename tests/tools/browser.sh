#!/usr/bin/env bash
# Provisions what the console's browser tests need, skipping what is already there: chromium
# and chromium-driver from apt (about 17 s). The console itself needs no build: `cavra serve`
# embeds the checked-in bundle. Progress goes to stderr.
set -euo pipefail

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
echo "browser-tools: installing chromium and chromium-driver with apt-get" >&2
if [[ "$(id -u)" != "0" ]]; then
    echo "browser-tools: apt-get needs root: install chromium and chromium-driver yourself" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium chromium-driver >&2

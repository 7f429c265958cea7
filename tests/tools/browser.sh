#!/usr/bin/env bash
# Provisions what the console's browser tests need, skipping what is already there: chromium
# and chromium-driver from apt (about 17 s). The console itself needs no build: `cavra serve`
# embeds the checked-in bundle.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" chromium=chromium chromedriver=chromium-driver

#!/usr/bin/env bash
# Installs Debian packages for commands a test or benchmark needs, skipping what is present:
#   apt-install.sh COMMAND=PACKAGE...   (e.g. chromedriver=chromium-driver)
# Nothing is installed when every COMMAND is already on PATH. Progress goes to stderr.
set -euo pipefail

missing=()
for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
echo "apt-install: installing ${missing[*]} with apt-get" >&2
if [[ "$(id -u)" != "0" ]]; then
    echo "apt-install: apt-get needs root: install ${missing[*]} yourself" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "${missing[@]}" >&2 || { apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2; }

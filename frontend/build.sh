#!/usr/bin/env bash
# Builds the console (release, wasm-opt -Oz) into frontend/dist/ and refreshes the checked-in
# bundle that `cavra` embeds: frontend/bundle/ gets the built files and SOURCES, the list of
# what they were built from (bundle-sources.sh), which the test suite checks is current.
# Commit frontend/bundle/ after running this. Installs the tools it needs first when they are
# missing (tests/tools/console-tools.sh); nothing is downloaded beyond the package registries.
# Extra arguments go to `trunk build`. Prints the bundle folder.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../tests/tools/console-tools.sh
source "$HERE/../tests/tools/console-tools.sh"
cd "$HERE"
trunk build --release --offline --skip-version-check --locked "$@" >&2

# The served config comes from the server (`/config.json`); everything else is the console.
rm -rf bundle.new
mkdir bundle.new
cp dist/*.html dist/*.js dist/*.wasm dist/*.css bundle.new/
bash "$HERE/bundle-sources.sh" >bundle.new/SOURCES
rm -rf bundle
mv bundle.new bundle
echo "$HERE/bundle"

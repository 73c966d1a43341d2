#!/usr/bin/env bash
# Compiles everything to dist/ and copies the data files the compiled tree reads at run time.
# dist/.built marks a complete build (scripts/start.sh rebuilds when a source is newer).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f dist/.built
tsc -p tsconfig.build.json
mkdir -p dist/fixtures
# The fixture release builder reads these next to its modules.
cp -r fixtures/init fixtures/installer fixtures/overlay fixtures/keys dist/fixtures/
# The Microsoft certificates the SecureBoot enrollment may add.
cp -r src/imager/secureboot/well-known dist/src/imager/secureboot/
touch dist/.built

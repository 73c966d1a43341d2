#!/usr/bin/env bash
# Starts the factory (default: the demo release, built on first use, at http://127.0.0.1:8080).
# Every setting can come from --config sources, IF_* (upstream) or BOOTFORGE_* variables; arguments
# pass through. The demo makes its SecureBoot keys once, in <storage dir>/secureboot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Production runs the compiled tree (half the start-up of the TypeScript sources through tsx); it
# is rebuilt when any source is newer than the last build.
if [ ! -e dist/.built ] || [ -n "$(find src fixtures bin package.json -newer dist/.built -print -quit)" ]; then
  echo "start: compiling to dist/ (npm run build)..." >&2
  npm run --silent build >&2
fi
export BOOTFORGE_DIST=1
exec node bin/image-factory.js serve "$@"

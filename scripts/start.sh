#!/usr/bin/env bash
# Starts the factory (default: the demo release, built on first use, at http://127.0.0.1:8080).
# Every setting can come from --config sources, IF_* (upstream) or BOOTFORGE_* variables; arguments
# pass through. The demo makes its SecureBoot keys once, in <storage dir>/secureboot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/image-factory.js serve "$@"

#!/usr/bin/env bash
# Starts the factory with the demo release (built on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/image-factory.js "$@"

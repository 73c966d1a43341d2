#!/usr/bin/env bash
# The one test command: installs what is missing, then runs every test suite.
# Extra arguments narrow the run to those files or folders (e.g. `npm test -- src/schematic`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export BOOTFORGE_SHARED="${BOOTFORGE_SHARED:-$(cd .. && pwd)/shared}"
roots=("$@")
((${#roots[@]})) || roots=(src fixtures test)
mapfile -t files < <(find "${roots[@]}" -name '*.test.ts' -not -path '*/node_modules/*' 2>/dev/null | sort)
if ((${#files[@]} == 0)); then
  echo "test: no test files under ${roots[*]}" >&2
  exit 1
fi
exec node --import tsx --test --test-reporter=spec --test-concurrency=2 "${files[@]}"

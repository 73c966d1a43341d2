#!/usr/bin/env bash
# Runs every benchmark in bench/ (each prints one `<name>: ratio=<x> (<details>)` line).
# Benchmarks are measurements, not tests: a slow run is reported, never failed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
for b in bench/*.ts; do
  [ -e "$b" ] || continue
  echo "# $b" >&2
  node --import tsx "$b" || { echo "bench: $b failed" >&2; status=1; }
done
exit $status

#!/usr/bin/env bash
# The compiled tree (npm run build) must run on its own, without tsx: the imager plans a build,
# and the factory starts on the demo release (building it on first use), creates a schematic and
# answers /versions. Used by .ci/run after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
export BOOTFORGE_DIST=1
node bin/imager.js metal --arch amd64 --talos-version v1.11.0 --dry-run >/dev/null
# The shipped Microsoft certificates are data files beside the compiled module.
node -e 'import("./dist/src/imager/secureboot/well-known-certs.js").then((m) => m.loadWellKnownCertificates())'

work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
node bin/image-factory.js serve --listen 127.0.0.1:0 --storage-dir "$work/store" >"$work/out" 2>"$work/err" &
pid=$!
url=""
for _ in $(seq 1 1800); do
  url=$(sed -n 's/^image-factory: serving at \(http:[^ ]*\).*/\1/p' "$work/err")
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/err" >&2; echo "dist-smoke: the factory exited" >&2; exit 1; }
  sleep 0.5
done
[ -n "$url" ] || { cat "$work/err" >&2; echo "dist-smoke: the factory did not start" >&2; exit 1; }
id=$(curl -fsS -X POST --data-binary 'customization: {}' "$url/schematics")
case "$id" in *'"id":"376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"'*) ;; *)
  echo "dist-smoke: unexpected schematic answer: $id" >&2; exit 1 ;;
esac
curl -fsS "$url/versions" | grep -q '"v1.11.0"' || { echo "dist-smoke: /versions lacks v1.11.0" >&2; exit 1; }
echo "dist-smoke: ok ($url)" >&2

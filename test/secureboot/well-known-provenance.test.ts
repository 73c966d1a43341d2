/**
 * Provenance of the shipped Microsoft certificates (`src/imager/secureboot/well-known/`): each
 * file equals, byte for byte, the DER of the PEM certificate in the Debian package the lock pins
 * (`virt-firmware-all`: python3-virt-firmware from Debian 14), converted by openssl.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { FIXTURES_CACHE, FIXTURES_LOCK } from "../../fixtures/index.js";
import { fetchCheckers, unpacked, WELL_KNOWN_CERTS_CHECKER } from "../../fixtures/lib/debian-inputs.js";
import { WELL_KNOWN_CERTIFICATES, WELL_KNOWN_DIR } from "../../src/imager/secureboot/well-known-certs.js";

/** Where each shipped file comes from inside the package. */
const SOURCE: Record<string, string> = {
  "kek/microsoft-corporation-kek-ca-2011.der": "ms-kek-2011.pem",
  "kek/microsoft-corporation-kek-2k-ca-2023.der": "ms-kek-2023.pem",
  "db/microsoft-corporation-uefi-ca-2011.der": "ms-uefi-2011.pem",
  "db/microsoft-option-rom-uefi-ca-2023.der": "ms-uefi-rom-2023.pem",
  "db/microsoft-uefi-ca-2023.der": "ms-uefi-2023.pem",
};
const CERTS_DIR = "usr/lib/python3/dist-packages/virt/firmware/certs/microsoft.com";

test("each shipped certificate re-derives from the pinned Debian package", { timeout: 300_000 }, async () => {
  const [deb] = await fetchCheckers({ cache: FIXTURES_CACHE, lock: FIXTURES_LOCK }, WELL_KNOWN_CERTS_CHECKER);
  assert.ok(deb);
  assert.equal(deb.name, "python3-virt-firmware");
  const root = await unpacked(FIXTURES_CACHE, deb);
  assert.deepEqual(Object.keys(SOURCE).sort(), WELL_KNOWN_CERTIFICATES.map((c) => c.file).sort());
  for (const c of WELL_KNOWN_CERTIFICATES) {
    const pem = join(root, CERTS_DIR, SOURCE[c.file]!);
    const der = execFileSync("openssl", ["x509", "-in", pem, "-outform", "DER"]);
    const shipped = await readFile(new URL(c.file, WELL_KNOWN_DIR));
    assert.ok(shipped.equals(der), `${c.file} differs from ${deb.name} ${deb.version} ${SOURCE[c.file]}`);
  }
});

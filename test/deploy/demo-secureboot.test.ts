/**
 * SecureBoot in the demo: `npm start`'s path (scripts/start.sh) on a fresh work directory makes
 * a SecureBoot signing key, certificate and PCR key once and keeps them (a second start reuses
 * them), `/secureboot/signing-cert.pem` serves that certificate, and a SecureBoot ISO downloaded
 * from the demo boots under OVMF with Secure Boot enforced once the demo's keys are enrolled
 * (setup mode, systemd-boot's `force` enrollment), while firmware trusting another key refuses it.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { boot } from "../qemu/boot.js";
import { FACT_PREFIX } from "../qemu/facts.js";
import { REPO, startFactoryProcess, type FactoryProcess } from "./factory-process.js";

let dir = "";
const work = () => join(dir, "work");
const keysDir = () => join(work(), "secureboot");

/** `npm start` with a free port and its own work directory. */
function start(): Promise<FactoryProcess> {
  return startFactoryProcess(
    "bash",
    [join(REPO, "scripts", "start.sh"), "--listen", "127.0.0.1:0", "--storage-dir", work()],
    { ...process.env },
    900_000,
  );
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-demo-secureboot-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("the demo makes its SecureBoot keys once, serves SecureBoot assets, and its ISO boots enforced after enrollment", async () => {
  let iso: string;
  let cert: string;
  const first = await start();
  try {
    assert.match(first.stderr(), /generated the demo's SecureBoot signing key, certificate and PCR key/);
    cert = await readFile(join(keysDir(), KEY_FILES.ukiSigningCert), "utf8");
    for (const f of [KEY_FILES.ukiSigningKey, KEY_FILES.pcrSigningKey])
      assert.ok(existsSync(join(keysDir(), f)), f);
    // Nothing half-made beside the directory.
    assert.deepEqual(
      (await readdir(work())).filter((n) => n.startsWith("secureboot.")),
      [],
    );
    const served = await fetch(`${first.url}/secureboot/signing-cert.pem`);
    assert.equal(served.status, 200);
    assert.equal(await served.text(), cert);

    const created = await fetch(`${first.url}/schematics`, {
      method: "POST",
      body: "customization:\n  extraKernelArgs:\n    - console=ttyS0\n  secureboot:\n    enrollKeys: force\n",
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const r = await fetch(`${first.url}/image/${id}/v1.11.0/metal-amd64-secureboot.iso`);
    assert.equal(r.status, 200, await r.clone().text());
    iso = join(dir, "metal-amd64-secureboot.iso");
    await writeFile(iso, Buffer.from(await r.arrayBuffer()));
  } finally {
    await first.stop();
  }

  // A second start keeps the keys.
  const second = await start();
  try {
    assert.doesNotMatch(second.stderr(), /generated the demo's SecureBoot/);
    assert.equal(await (await fetch(`${second.url}/secureboot/signing-cert.pem`)).text(), cert);
    assert.equal(await readFile(join(keysDir(), KEY_FILES.ukiSigningCert), "utf8"), cert);
  } finally {
    await second.stop();
  }

  // Firmware that trusts another key (Debian's snakeoil) refuses the demo's ISO.
  const refused = await boot({
    arch: "amd64",
    firmware: "secureboot-snakeoil",
    media: { kind: "iso", path: iso },
    expectOk: false,
    stopOn: new RegExp(`Access Denied|Security Violation|${FACT_PREFIX}ok`),
    timeoutMs: 180_000,
  });
  assert.doesNotMatch(refused.log, new RegExp(`${FACT_PREFIX}ok`), "an untrusting firmware booted it");
  assert.match(refused.log, /Access Denied|Security Violation/);

  // Setup mode: systemd-boot enrolls the demo's keys (PK, KEK, db) and resets; the second boot
  // runs with Secure Boot enforced.
  const enrolled = await boot({
    arch: "amd64",
    firmware: "secureboot-setup",
    media: { kind: "iso", path: iso },
    extraArgs: ["-action", "reboot=reset"],
    timeoutMs: 300_000,
  });
  assert.match(enrolled.log, /Enrolling secure boot keys from directory: \\loader\\keys\\auto/);
  assert.doesNotMatch(enrolled.log, /Failed to write \w+ secure boot variable/);
  assert.equal(enrolled.facts.secureboot, "enabled");
});

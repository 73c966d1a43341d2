/**
 * `secureboot.includeWellKnownCertificates` end to end: a factory with SecureBoot on (a generated
 * key set the firmware does not know) builds the SecureBoot ISO of a schematic asking for the
 * Microsoft certificates with `force` enrollment; OVMF in setup mode lets systemd-boot enroll the
 * ISO's `loader/keys/auto` and reset, and the ISO then boots with Secure Boot enforced. The
 * fixture OS reads KEK and db back from efivarfs: they hold the signer's certificate and exactly
 * the shipped Microsoft certificates, by SHA-256. One QEMU boot (two firmware passes).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { WELL_KNOWN_CERTIFICATES } from "../../src/imager/secureboot/well-known-certs.js";
import { startFactory, type TestFactory } from "../factory/harness.js";
import { boot } from "../qemu/boot.js";
import { writeUntrustedKeysDir } from "../qemu/snakeoil-keys.js";

const VERSION = "v1.11.0";
const SCHEMATIC = `customization:
  extraKernelArgs:
    - console=ttyS0
  secureboot:
    enrollKeys: force
    includeWellKnownCertificates: true
`;

let scratch = "";
let keysDir = "";
let f: TestFactory | undefined;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "bootforge-wellknown-boot-"));
  keysDir = join(scratch, "keys");
  await writeUntrustedKeysDir(keysDir, new Date(1700000000 * 1000));
  f = await startFactory({ secureBoot: { enabled: true, keysDir } });
});
after(async () => {
  await f?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

test("a SecureBoot ISO with the well-known certificates enrolls them in setup mode and boots enforced", async () => {
  const url = f!.url;
  const created = await fetch(`${url}/schematics`, { method: "POST", body: SCHEMATIC });
  assert.equal(created.status, 201);
  const { id } = (await created.json()) as { id: string };

  const res = await fetch(`${url}/image/${id}/${VERSION}/metal-amd64-secureboot.iso`);
  assert.equal(res.status, 200, await res.clone().text());
  const iso = join(scratch, "well-known.iso");
  await writeFile(iso, Buffer.from(await res.arrayBuffer()));

  // Setup mode: systemd-boot enrolls db, KEK and PK (force) and resets; QEMU resets in place so
  // the second pass boots the ISO under the keys just enrolled.
  const { facts, log } = await boot({
    arch: "amd64",
    firmware: "secureboot-setup",
    media: { kind: "iso", path: iso },
    extraArgs: ["-action", "reboot=reset"],
    // Two firmware passes and systemd-boot's menu countdown before the fixture OS starts.
    timeoutMs: 300_000,
  });
  assert.match(log, /Enrolling secure boot keys from directory: \\loader\\keys\\auto/);
  assert.doesNotMatch(log, /Failed to write \w+ secure boot variable/);
  assert.ok(facts.ok, log.slice(-2000));
  const seen = facts.lines.join("\n");
  assert.equal(facts.secureboot, "enabled", seen);
  assert.equal(facts.setupMode, 0, seen);

  const own = sha256(await readFile(join(keysDir, KEY_FILES.ukiSigningCertDer)));
  const enrolled = (variable: string) =>
    facts.efiSignatures.filter((s) => s.variable === variable).map((s) => `${s.type} ${s.sha256}`);
  const shipped = (variable: string) =>
    WELL_KNOWN_CERTIFICATES.filter((c) => c.variable === variable).map((c) => `x509 ${c.sha256}`);
  assert.deepEqual(enrolled("KEK"), [`x509 ${own}`, ...shipped("KEK")], seen);
  assert.deepEqual(enrolled("db"), [`x509 ${own}`, ...shipped("db")], seen);
});

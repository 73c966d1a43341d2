import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { requireTool } from "../uki/test-fixtures.js";
import {
  MICROSOFT_OWNER_GUID,
  generateEnrollmentDatabase,
  parseAuthVariable,
  parseSignatureLists,
} from "./enrollment.js";
import { generateSecureBootKeys, KEY_FILES, loadSecureBootKeys, type SecureBootKeys } from "./keys.js";
import { loadWellKnownCertificates, WELL_KNOWN_CERTIFICATES } from "./well-known-certs.js";

const dir = mkdtempSync(join(tmpdir(), "bootforge-wellknown-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let keys: SecureBootKeys;
before(async () => {
  await generateSecureBootKeys(dir, { ukiBits: 2048 });
  keys = await loadSecureBootKeys(dir);
});

requireTool("openssl", "openssl");
requireTool("sig-list-to-certs", "efitools");

test("the shipped certificates are the five Microsoft CAs upstream enrolls, as openssl reads them", async () => {
  const { kek, db } = await loadWellKnownCertificates();
  assert.equal(kek.length, 2);
  assert.equal(db.length, 3);
  for (const [i, der] of [...kek, ...db].entries()) {
    const c = WELL_KNOWN_CERTIFICATES[i]!;
    const subject = execFileSync("openssl", ["x509", "-inform", "DER", "-noout", "-subject"], { input: der })
      .toString("utf8")
      .trim();
    assert.match(subject, new RegExp(`O = Microsoft Corporation, CN = ${c.commonName}$`));
    assert.equal(createHash("sha256").update(der).digest("hex"), c.sha256);
  }
  // The README lists every fingerprint and name.
  const readme = readFileSync(new URL("./well-known/README.md", import.meta.url), "utf8");
  for (const c of WELL_KNOWN_CERTIFICATES) {
    assert.ok(readme.includes(c.sha256), c.file);
    assert.ok(readme.includes(c.file), c.file);
  }
});

test("KEK.auth holds the KEK CAs and db.auth the UEFI CAs beside the signer's certificate", async () => {
  const wellKnown = await loadWellKnownCertificates();
  const files = await generateEnrollmentDatabase({ signer: keys.uki, timestamp: 1700000000, wellKnown });
  const own = readFileSync(join(dir, KEY_FILES.ukiSigningCertDer));
  for (const [name, extra] of [
    ["KEK", wellKnown.kek],
    ["db", wellKnown.db],
  ] as const) {
    const esl = parseAuthVariable(files[`${name}.auth`]).data;
    const entries = parseSignatureLists(esl).flatMap((l) => l.entries);
    assert.deepEqual(
      entries.map((e) => e.data),
      [own, ...extra],
    );
    assert.ok(entries.slice(1).every((e) => e.owner === MICROSOFT_OWNER_GUID));
    // efitools reads the same certificates back out of the list.
    const eslPath = join(dir, `${name}.esl`);
    writeFileSync(eslPath, esl);
    execFileSync("sig-list-to-certs", [eslPath, join(dir, `out-${name}`)], { stdio: "ignore" });
    const got = readdirSync(dir)
      .filter((f) => f.startsWith(`out-${name}-`))
      .sort((a, b) => Number(/-(\d+)\.der$/.exec(a)?.[1]) - Number(/-(\d+)\.der$/.exec(b)?.[1]))
      .map((f) => readFileSync(join(dir, f)));
    assert.deepEqual(got, [own, ...extra]);
  }
  // PK holds only the signer's certificate.
  assert.equal(
    parseSignatureLists(parseAuthVariable(files["PK.auth"]).data).flatMap((l) => l.entries).length,
    1,
  );
});

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { requireTool } from "../uki/test-fixtures.js";
import {
  EFI_CERT_X509_GUID,
  MICROSOFT_OWNER_GUID,
  authenticatedPayload,
  generateEnrollmentDatabase,
  guidBytes,
  guidString,
  ownerGuidFor,
  parseAuthVariable,
  parseSignatureLists,
} from "./enrollment.js";
import { generateSecureBootKeys, KEY_FILES, loadSecureBootKeys, type SecureBootKeys } from "./keys.js";
import { wrapSignedData } from "./pkcs7.js";

const dir = mkdtempSync(join(tmpdir(), "bootforge-enroll-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let keys: SecureBootKeys;
const certPem = join(dir, KEY_FILES.ukiSigningCert);

before(async () => {
  await generateSecureBootKeys(dir, { ukiBits: 2048 });
  keys = await loadSecureBootKeys(dir);
});

describe("enrollment database", () => {
  requireTool("cert-to-efi-sig-list", "efitools");
  requireTool("openssl", "openssl");

  test("GUIDs use the EFI mixed-endian layout", () => {
    assert.equal(guidBytes(EFI_CERT_X509_GUID).toString("hex"), "a159c0a5e494a74a87b5ab155c2bf072");
    assert.equal(guidString(guidBytes(MICROSOFT_OWNER_GUID)), MICROSOFT_OWNER_GUID);
    assert.match(
      ownerGuidFor(Buffer.from("x")),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  test("DER lists equal efitools' cert-to-efi-sig-list; signatures verify with openssl", async () => {
    const files = await generateEnrollmentDatabase({
      signer: keys.uki,
      encoding: "der",
      timestamp: 1700000000,
    });
    const owner = ownerGuidFor(keys.uki.certificate.der);
    const reference = join(dir, "ref.esl");
    execFileSync("cert-to-efi-sig-list", ["-g", owner, certPem, reference]);
    for (const name of ["PK", "KEK", "db"] as const) {
      const auth = parseAuthVariable(files[`${name}.auth`]);
      assert.ok(auth.data.equals(readFileSync(reference)), `${name} list`);
      assert.equal(auth.time.readUInt16LE(0), 2023);
      const p7 = join(dir, `${name}.p7`);
      const payload = join(dir, `${name}.payload`);
      writeFileSync(p7, wrapSignedData(auth.certData));
      writeFileSync(payload, authenticatedPayload(name, auth.time, auth.data));
      const v = spawnSync(
        "openssl",
        [
          "cms",
          "-verify",
          "-binary",
          "-inform",
          "DER",
          "-in",
          p7,
          "-content",
          payload,
          "-CAfile",
          certPem,
          "-purpose",
          "any",
          "-out",
          "/dev/null",
        ],
        { encoding: "utf8" },
      );
      assert.equal(v.status, 0, `${name}: ${v.stderr}`);
      // A different variable name must not verify with the same signature.
      writeFileSync(payload, authenticatedPayload(name === "db" ? "KEK" : "db", auth.time, auth.data));
      assert.notEqual(
        spawnSync("openssl", [
          "cms",
          "-verify",
          "-binary",
          "-inform",
          "DER",
          "-in",
          p7,
          "-content",
          payload,
          "-CAfile",
          certPem,
          "-purpose",
          "any",
          "-out",
          "/dev/null",
        ]).status,
        0,
      );
    }
  });

  test("upstream's PEM quirk, well-known certs in their own list, reproducible", async () => {
    const other = join(dir, "ms");
    await generateSecureBootKeys(other, { ukiBits: 2048, commonName: "Pretend Microsoft" });
    const msDer = readFileSync(join(other, KEY_FILES.ukiSigningCertDer));
    const opts = {
      signer: keys.uki,
      timestamp: 1700000000,
      encoding: "pem" as const,
      wellKnown: { kek: [msDer], db: [msDer, msDer] },
    };
    const a = await generateEnrollmentDatabase(opts);
    const b = await generateEnrollmentDatabase(opts);
    assert.ok(a["db.auth"].equals(b["db.auth"]) && a["PK.auth"].equals(b["PK.auth"]));

    const pem = readFileSync(certPem);
    const pk = parseSignatureLists(parseAuthVariable(a["PK.auth"]).data);
    assert.deepEqual(pk, [{ type: EFI_CERT_X509_GUID, entries: [{ owner: ownerGuidFor(pem), data: pem }] }]);
    const db = parseSignatureLists(parseAuthVariable(a["db.auth"]).data);
    assert.equal(db.length, 2);
    assert.deepEqual(
      db[1]!.entries.map((e) => e.owner),
      [MICROSOFT_OWNER_GUID, MICROSOFT_OWNER_GUID],
    );

    // efitools reads our lists back.
    const esl = join(dir, "db.esl");
    writeFileSync(esl, parseAuthVariable(a["db.auth"]).data);
    const outPrefix = join(dir, "dbcert");
    execFileSync("sig-list-to-certs", [esl, outPrefix], { stdio: "ignore" });
    const extracted = readdirSync(dir)
      .filter((f) => f.startsWith("dbcert"))
      .sort();
    assert.equal(extracted.length, 3);
    assert.ok(readFileSync(join(dir, extracted[0]!)).equals(pem));
  });
});

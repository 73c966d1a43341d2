import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isBootforgeError } from "../../errors/index.js";
import { DEBIAN_SDBOOT, DEBIAN_STUB, requireTool } from "../uki/test-fixtures.js";
import { authenticodeDigest, signPe } from "./authenticode.js";
import { generateSecureBootKeys, loadSecureBootKeys, KEY_FILES, type SecureBootKeys } from "./keys.js";

const dir = mkdtempSync(join(tmpdir(), "bootforge-sign-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let keys: SecureBootKeys;
const certPem = join(dir, KEY_FILES.ukiSigningCert);

before(async () => {
  await generateSecureBootKeys(dir, { ukiBits: 2048, notBefore: new Date("2024-01-01T00:00:00Z") });
  keys = await loadSecureBootKeys(dir);
});

describe("signPe", () => {
  requireTool("sbverify", "sbsigntool");
  requireTool("osslsigncode", "osslsigncode");

  test("signed sd-boot verifies with sbverify and osslsigncode", async () => {
    const out = join(dir, "systemd-bootx64.efi.signed");
    await signPe(DEBIAN_SDBOOT, out, keys.uki, { signingTime: 1700000000 });
    const sb = spawnSync("sbverify", ["--cert", certPem, out], { encoding: "utf8" });
    assert.equal(sb.status, 0, sb.stdout + sb.stderr);
    assert.match(sb.stdout, /Signature verification OK/);
    const ossl = spawnSync("osslsigncode", ["verify", "-CAfile", certPem, "-in", out], { encoding: "utf8" });
    assert.equal(ossl.status, 0, ossl.stdout + ossl.stderr);
    assert.match(ossl.stdout, /Calculated message digest\s*:\s*([0-9A-F]+)/);
    // Our image hash is the one osslsigncode computes independently.
    const { digest } = await authenticodeDigest(DEBIAN_SDBOOT);
    assert.match(ossl.stdout, new RegExp(`Calculated message digest\\s*:\\s*${digest.toString("hex")}`, "i"));
  });

  test("a different certificate does not verify; signing is deterministic", async () => {
    const other = join(dir, "other");
    await generateSecureBootKeys(other, { ukiBits: 2048 });
    const a = join(dir, "stub-a.efi");
    const b = join(dir, "stub-b.efi");
    await signPe(DEBIAN_STUB, a, keys.uki, { signingTime: 1700000000 });
    await signPe(DEBIAN_STUB, b, keys.uki, { signingTime: 1700000000 });
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    const sb = spawnSync("sbverify", ["--cert", join(other, KEY_FILES.ukiSigningCert), a], {
      encoding: "utf8",
    });
    assert.notEqual(sb.status, 0);
    execFileSync("sbverify", ["--cert", certPem, a]);
  });

  test("refuses to sign twice", async () => {
    const once = join(dir, "once.efi");
    await signPe(DEBIAN_STUB, once, keys.uki);
    await assert.rejects(signPe(once, join(dir, "twice.efi"), keys.uki), (e) =>
      isBootforgeError(e, "invalid-input"),
    );
  });
});

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bytesOf, type ByteSource } from "../uki/byte-source.js";
import { readPeHeaders, readSectionData } from "../uki/pe-file.js";
import { bootforgeSplash } from "../../formats/pe/splash-bmp.js";
import { DEBIAN_STUB, fakeBzImage, requireTool } from "../uki/test-fixtures.js";
import { extraUkiProfiles, osRelease } from "../../formats/pe/uki-sections.js";
import { stubSbat } from "../uki/section-content.js";
import { generateSecureBootKeys, KEY_FILES, loadSecureBootKeys, type SecureBootKeys } from "./keys.js";
import { pcrPublicKeyPem, pcrSignatureJson, signPcrPolicy } from "./pcr.js";
import { buildSignedUki } from "./signed-uki.js";

const dir = mkdtempSync(join(tmpdir(), "bootforge-suki-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const kernel = join(dir, "vmlinuz");
const initrd = join(dir, "initramfs");
const cmdline = "talos.platform=metal";
let keys: SecureBootKeys;

before(async () => {
  writeFileSync(kernel, fakeBzImage("6.18.45-talos"));
  writeFileSync(initrd, Buffer.alloc(200 * 1024, 3));
  await generateSecureBootKeys(dir, { ukiBits: 2048 });
  keys = await loadSecureBootKeys(dir);
});

const sectionNames = (path: string) =>
  [
    ...execFileSync("objdump", ["-h", path], { encoding: "utf8" }).matchAll(
      /^\s+\d+\s+(\S+)\s+[0-9a-f]{8}\s/gm,
    ),
  ].map((m) => m[1]!);

describe("buildSignedUki", () => {
  requireTool("sbverify", "sbsigntool");
  requireTool("objdump", "binutils");

  test("≥ 1.10: upstream section order, a .pcrsig per profile, valid Authenticode, reproducible", async () => {
    const inputs = {
      stub: DEBIAN_STUB,
      kernel: { path: kernel },
      initrd: { path: initrd },
      cmdline,
      version: "v1.11.0",
      profiles: extraUkiProfiles("iso", cmdline),
      timestamp: 1700000000,
    };
    const a = join(dir, "a.efi");
    const b = join(dir, "b.efi");
    const result = await buildSignedUki(inputs, keys, a, { signingTime: 1700000000 });
    await buildSignedUki(inputs, keys, b, { signingTime: 1700000000 });
    assert.ok(readFileSync(a).equals(readFileSync(b)), "same inputs, same bytes");

    assert.deepEqual(sectionNames(a).slice(-12), [
      ".osrel",
      ".cmdline",
      ".uname",
      ".splash",
      ".pcrpkey",
      ".linux",
      ".initrd",
      ".profile",
      ".pcrsig",
      ".profile",
      ".cmdline",
      ".pcrsig",
    ]);
    const sb = spawnSync("sbverify", ["--cert", join(dir, KEY_FILES.ukiSigningCert), a], {
      encoding: "utf8",
    });
    assert.equal(sb.status, 0, sb.stdout + sb.stderr);
    const ossl = spawnSync(
      "osslsigncode",
      ["verify", "-CAfile", join(dir, KEY_FILES.ukiSigningCert), "-in", a],
      { encoding: "utf8" },
    );
    assert.equal(ossl.status, 0, ossl.stdout + ossl.stderr);

    // The main profile's .pcrsig covers the base sections + `.profile` ID=main; the reset
    // profile's covers the base with its own `.cmdline` instead.
    const base = new Map<string, ByteSource>([
      [".sbat", bytesOf(await stubSbat(DEBIAN_STUB))],
      [".osrel", bytesOf(osRelease("v1.11.0"))],
      [".cmdline", bytesOf(cmdline)],
      [".uname", bytesOf("6.18.45-talos")],
      [".splash", bytesOf(bootforgeSplash())],
      [".pcrpkey", bytesOf(pcrPublicKeyPem(keys.pcr))],
      [".linux", { path: kernel }],
      [".initrd", { path: initrd }],
    ]);
    const main = pcrSignatureJson(
      await signPcrPolicy(new Map([...base, [".profile", bytesOf("ID=main")]]), keys.pcr),
    );
    const reset = pcrSignatureJson(
      await signPcrPolicy(
        new Map([
          ...base,
          [".profile", bytesOf("ID=reset\nTITLE=Reset system disk")],
          [".cmdline", bytesOf(`${cmdline} talos.experimental.wipe=system`)],
        ]),
        keys.pcr,
      ),
    );
    const h = await readPeHeaders(a);
    const sigs = await Promise.all(
      h.sections
        .filter((s) => s.name === ".pcrsig")
        .map(async (s) => (await readSectionData(a, s)).toString()),
    );
    assert.deepEqual(sigs, [main, reset]);
    assert.deepEqual(result.pcrSignatures.map(pcrSignatureJson), sigs);
  });

  test("< 1.10: one .pcrsig at the end", async () => {
    const out = join(dir, "old.efi");
    await buildSignedUki(
      { stub: DEBIAN_STUB, kernel: { path: kernel }, initrd: { path: initrd }, cmdline, version: "v1.9.0" },
      keys,
      out,
    );
    assert.deepEqual(sectionNames(out).slice(-8), [
      ".osrel",
      ".cmdline",
      ".uname",
      ".splash",
      ".pcrpkey",
      ".linux",
      ".initrd",
      ".pcrsig",
    ]);
    execFileSync("sbverify", ["--cert", join(dir, KEY_FILES.ukiSigningCert), out], { stdio: "ignore" });
  });
});

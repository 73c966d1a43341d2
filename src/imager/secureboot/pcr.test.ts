import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, verify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { ByteSource } from "../uki/byte-source.js";
import { requireTool } from "../uki/test-fixtures.js";
import {
  MEASURED_SECTIONS,
  pcrPublicKeyPem,
  pcrSignatureJson,
  predictPcr11,
  publicKeyFingerprint,
  signPcrPolicy,
  type Phase,
} from "./pcr.js";
import { localSigner, type HashName } from "./signer.js";

const MEASURE = "/usr/lib/systemd/systemd-measure";
const dir = mkdtempSync(join(tmpdir(), "bootforge-pcr-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const signer = localSigner(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey);

describe("PCR 11", () => {
  test("policy digests equal upstream's measure_test vector (each section holds its own name)", async () => {
    const sections = new Map<string, ByteSource>(
      MEASURED_SECTIONS.map((s) => [s, { bytes: Buffer.from(s) }]),
    );
    const sig = await signPcrPolicy(sections, signer);
    // From siderolabs/talos internal/pkg/measure/measure_test.go ExpectedSignatureJSON (key-independent part).
    assert.equal(sig.sha256![0]!.pol, "c0c4f61f8ac39267a7638cde8029b82a0ccd378b2acbfdffb77ee1f0f9d464ec");
    assert.equal(sig.sha384![0]!.pol, "e8f6311e36f9ee038df65255ae7c471d1d1f91ce742b98a152be72337f6c937d");
    assert.equal(sig.sha512![0]!.pol, "207a8217158f9cc521dca50358a593dc61ed9308ef27da9df4ef64d634309160");
    const pkcs1 = signer.publicKey.export({ type: "pkcs1", format: "der" });
    for (const bank of ["sha256", "sha384", "sha512"] as const) {
      const entry = sig[bank]![0]!;
      assert.deepEqual(entry.pcrs, [11]);
      assert.equal(entry.pkfp, createHash("sha256").update(pkcs1).digest("hex"));
      assert.ok(
        verify(bank, Buffer.from(entry.pol, "hex"), signer.publicKey, Buffer.from(entry.sig, "base64")),
        bank,
      );
    }
    const json = pcrSignatureJson(sig);
    assert.match(
      json,
      /^\{"sha256":\[\{"pcrs":\[11\],"pkfp":"[0-9a-f]{64}","pol":"[0-9a-f]{64}","sig":"[A-Za-z0-9+/=]+"\}\],"sha384":/,
    );
    assert.ok(!json.endsWith("\n"));
    assert.equal(publicKeyFingerprint(signer), sig.sha256![0]!.pkfp);
  });

  test("predictions equal Debian's systemd-measure calculate", async () => {
    requireTool(MEASURE, "systemd");
    const files: Record<string, string> = {
      ".linux": "kernel image bytes".repeat(1000),
      ".osrel": 'NAME="Talos"\nID=talos\n',
      ".cmdline": "talos.platform=metal console=ttyS0",
      ".initrd": "initramfs".repeat(5000),
      ".splash": "BM fake splash",
      ".pcrpkey": pcrPublicKeyPem(signer),
    };
    const sections = new Map<string, ByteSource>();
    const args: string[] = [];
    for (const [name, content] of Object.entries(files)) {
      const p = join(dir, name.slice(1));
      writeFileSync(p, content);
      sections.set(name, { path: p });
      args.push(`--${name.slice(1)}=${p}`);
    }
    const cases: [string, Phase[]][] = [
      // systemd's own default phase list
      ["", ["enter-initrd", "leave-initrd", "sysinit", "ready"].map((phase) => ({ phase, sign: true }))],
      [
        "--phase=enter-initrd:leave-initrd:enter-machined",
        [
          { phase: "enter-initrd", sign: false },
          { phase: "leave-initrd", sign: false },
          { phase: "enter-machined", sign: true },
        ],
      ],
    ];
    for (const [phaseArg, phases] of cases) {
      const predicted = await predictPcr11(sections, phases);
      for (const bank of ["sha256", "sha384", "sha512"] as HashName[]) {
        const out = execFileSync(
          MEASURE,
          ["calculate", ...args, `--bank=${bank}`, ...(phaseArg ? [phaseArg] : [])],
          { encoding: "utf8" },
        );
        const theirs = [...out.matchAll(/^11:\w+=([0-9a-f]+)$/gm)].map((m) => m[1]);
        const ours = predicted
          .get(bank)!
          .map((v, i) => ({ v, i }))
          .filter(({ i }) => phases[i]!.sign)
          .map(({ v }) => v.toString("hex"));
        assert.deepEqual(ours, theirs, `${bank} ${phaseArg}`);
      }
    }
  });
});

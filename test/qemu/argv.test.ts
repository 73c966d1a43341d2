/** QEMU command lines: TCG only, no network, no display, firmware per mode (no boot needed). */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { qemuArgv } from "./boot.js";
import { parseFacts } from "./facts.js";

test("every argv is TCG, -nic none, no display, and never KVM", async () => {
  const scratch = await mkdtemp(join(tmpdir(), "qemu-argv-"));
  try {
    const cases = [
      { arch: "amd64", firmware: "bios", media: { kind: "iso", path: "/x.iso" } },
      { arch: "amd64", firmware: "uefi", media: { kind: "disk", path: "/x.raw" } },
      { arch: "amd64", firmware: "secureboot-snakeoil", media: { kind: "uki", path: "/dev/null" } },
      { arch: "amd64", firmware: "secureboot-setup", media: { kind: "disk", path: "/x.raw" } },
      { arch: "arm64", firmware: "uefi", media: { kind: "iso", path: "/x.iso" } },
    ] as const;
    for (const c of cases) {
      const argv = (await qemuArgv(c, scratch)).join(" ");
      assert.match(argv, /-accel tcg/);
      assert.match(argv, /-nic none/);
      assert.match(argv, /-display none/);
      assert.doesNotMatch(argv, /kvm/i);
      if (c.firmware.startsWith("secureboot") && c.arch === "amd64") {
        assert.match(argv, /OVMF_CODE_4M\.secboot\.fd/);
        assert.match(argv, /smm=on/);
        assert.match(argv, /cfi\.pflash01,property=secure,value=on/);
      }
      if (c.firmware === "bios") assert.doesNotMatch(argv, /pflash/);
    }
    await assert.rejects(
      qemuArgv({ arch: "arm64", firmware: "bios", media: { kind: "iso", path: "/x.iso" } }, scratch),
    );
    // A 4Kn disk: both block sizes on the virtio-blk device; a plain disk leaves QEMU's 512.
    const disk = async (sectorSize?: 512 | 4096) =>
      (
        await qemuArgv(
          {
            arch: "amd64",
            firmware: "uefi",
            media: { kind: "disk", path: "/x.raw", ...(sectorSize ? { sectorSize } : {}) },
          },
          scratch,
        )
      ).join(" ");
    assert.match(
      await disk(4096),
      / -device virtio-blk-pci,drive=hd0,bootindex=0,logical_block_size=4096,physical_block_size=4096( |$)/,
    );
    assert.doesNotMatch(await disk(), /block_size/);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
});

test("parseFacts ignores console noise and keeps facts in order", () => {
  const log = [
    "[    1.0] Run /init as init process",
    "BOOTFORGE-FIXTURE cmdline=console=ttyS0 a=b",
    "BOOTFORGE-FIXTURE extension=foo@1.0",
    "garbage BOOTFORGE-FIXTURE module=dummy loaded\r",
    "BOOTFORGE-FIXTURE meta 0x0a=x\\ny",
    "BOOTFORGE-FIXTURE disk-label=META dev=vda1",
    "BOOTFORGE-FIXTURE secureboot=enabled",
    "BOOTFORGE-FIXTURE setupmode=0",
    `BOOTFORGE-FIXTURE efi-signature=KEK x509 ${"a".repeat(64)}`,
    `BOOTFORGE-FIXTURE efi-signature=db c1c41626504c4092aca941f936934328 ${"b".repeat(64)}`,
    "BOOTFORGE-FIXTURE ok",
  ].join("\n");
  const f = parseFacts(log);
  assert.equal(f.cmdline, "console=ttyS0 a=b");
  assert.deepEqual(f.extensions, ["foo@1.0"]);
  assert.deepEqual(f.modules, ["dummy"]);
  assert.deepEqual(f.meta, { "0x0a": "x\\ny" });
  assert.deepEqual(f.diskLabels, ["META"]);
  assert.equal(f.secureboot, "enabled");
  assert.equal(f.setupMode, 0);
  assert.deepEqual(f.efiSignatures, [
    { variable: "KEK", type: "x509", sha256: "a".repeat(64) },
    { variable: "db", type: "c1c41626504c4092aca941f936934328", sha256: "b".repeat(64) },
  ]);
  assert.ok(f.ok);
});

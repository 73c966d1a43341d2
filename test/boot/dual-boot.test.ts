/**
 * Boots a dual-boot metal image built from the fixture release under QEMU twice: SeaBIOS (GRUB's
 * BIOS boot code → core.img → grub.cfg on the XFS BOOT partition) and OVMF (systemd-boot → UKI
 * on the EFI partition). The fixture init reports the command line, partition labels and the
 * META values, which must be those given to the image stage plus `0x11=dual-boot`.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease, fixtureBootFiles } from "../../fixtures/index.js";
import { buildImageOutput } from "../../src/imager/disk/index.js";
import { buildUki } from "../../src/imager/uki/index.js";
import type { Profile } from "../../src/profile/model.js";
import { boot } from "../qemu/boot.js";

const MIB = 1024 * 1024;
const GRUB_DIR = process.env.BOOTFORGE_GRUB_DIR ?? "/usr/lib/grub";
let dir = "";
let image = "";
const grubCmdline = "console=ttyS0 talos.platform=metal bootforge.loader=grub";
const ukiCmdline = "console=ttyS0 talos.platform=metal bootforge.loader=sd-boot";

before(async () => {
  const release = (await ensureFixtureRelease()).dir;
  dir = await mkdtemp(join(tmpdir(), "bootforge-image-boot-"));
  const files = fixtureBootFiles(release, "v1.11.0", "amd64");
  const uki = join(dir, "uki.efi");
  await buildUki(
    {
      stub: files.stub,
      kernel: { path: files.vmlinuz },
      initrd: { path: files.initramfs },
      cmdline: ukiCmdline,
      version: "v1.11.0",
      timestamp: 0,
    },
    uki,
  );
  const profile: Profile = {
    arch: "amd64",
    platform: "metal",
    secureboot: false,
    version: "v1.11.0",
    customization: { metaContents: [{ key: 0x0a, value: "bootforge-meta" }] },
    output: {
      kind: "image",
      outFormat: "raw",
      imageOptions: { diskSize: 4247 * MIB, diskFormat: "raw", bootloader: "dual-boot" },
    },
  };
  image = join(dir, "metal-amd64.raw");
  await buildImageOutput({
    profile,
    cmdline: grubCmdline,
    inputs: {
      kernel: files.vmlinuz,
      initramfs: files.initramfs,
      uki,
      sdBoot: files.boot,
      grubDir: GRUB_DIR,
    },
    output: image,
    scratchDir: dir,
  });
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const firmware of ["bios", "uefi"] as const) {
  test(`dual-boot metal image boots under ${firmware === "bios" ? "SeaBIOS via GRUB" : "OVMF via systemd-boot"}`, async () => {
    const r = await boot({
      arch: "amd64",
      firmware,
      media: { kind: "disk", path: image },
      timeoutMs: 180_000,
    });
    const f = r.facts;
    assert.equal(f.boot, firmware);
    // GRUB's linux command prepends BOOT_IMAGE=<path>, as on any GRUB boot
    assert.equal(f.cmdline, firmware === "bios" ? `BOOT_IMAGE=/A/vmlinuz ${grubCmdline}` : ukiCmdline);
    assert.equal(f.meta["0x0a"], "bootforge-meta");
    assert.equal(f.meta["0x11"], "dual-boot");
    for (const label of ["EFI", "BIOS", "BOOT", "META"]) assert.ok(f.diskLabels.includes(label), label);
  });
}

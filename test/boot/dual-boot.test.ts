/**
 * Boots a dual-boot metal image built from the fixture release under QEMU twice: SeaBIOS (GRUB's
 * BIOS boot code → core.img → grub.cfg on the XFS BOOT partition) and OVMF (systemd-boot → UKI
 * on the EFI partition). The fixture init reports the command line, partition labels and the
 * META values, which must be those given to the image stage plus `0x11=dual-boot`. The UKI
 * carries the disk image's reset profile, as the pipeline builds it: systemd-boot ≥ 257 starts the
 * default profile, and the reset entry (`@reset-maintenance`), chosen through loader.conf, boots with the wipe
 * arguments.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease, fixtureBootFiles } from "../../fixtures/index.js";
import { buildImageOutput } from "../../src/imager/disk/index.js";
import { buildUki } from "../../src/imager/uki/index.js";
import { extraUkiProfiles } from "../../src/formats/pe/uki-sections.js";
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
      profiles: extraUkiProfiles("image", ukiCmdline),
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

const exec = (cmd: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) =>
    execFile(cmd, args, { env: { ...process.env, MTOOLS_SKIP_CHECK: "1" } }, (e, out, err) =>
      e ? reject(new Error(`${cmd}: ${err || e.message}`)) : resolve(out),
    ),
  );

test("the reset entry (UKI profile reset-maintenance) boots with the wipe arguments", async () => {
  // A copy of the image whose loader.conf makes the reset entry the default, with no menu delay:
  // chosen by the boot loader's own configuration, not by timed keystrokes.
  const copy = join(dir, "reset.raw");
  await exec("cp", ["--sparse=always", image, copy]);
  const table = JSON.parse(await exec("sfdisk", ["--json", copy])) as {
    partitiontable: { sectorsize?: number; partitions: { start: number; name?: string }[] };
  };
  const efi = table.partitiontable.partitions.find((p) => p.name === "EFI");
  assert.ok(efi, "no EFI partition");
  const offset = efi.start * (table.partitiontable.sectorsize ?? 512);
  const conf = join(dir, "loader.conf");
  // systemd-boot names a profile's entry `<uki file>@<profile ID>` (lowercased): the `.profile`
  // section's ID must be read back for this to match.
  await writeFile(conf, "timeout 0\ndefault talos-v1.11.0.efi@reset-maintenance\n");
  await exec("mcopy", ["-o", "-i", `${copy}@@${offset}`, conf, "::/loader/loader.conf"]);
  const r = await boot({
    arch: "amd64",
    firmware: "uefi",
    media: { kind: "disk", path: copy },
    timeoutMs: 180_000,
  });
  assert.equal(r.facts.boot, "uefi");
  assert.equal(r.facts.cmdline, `${ukiCmdline} talos.experimental.wipe=system:EPHEMERAL,STATE`);
});

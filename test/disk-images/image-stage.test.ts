/**
 * The `image` output end to end on small inputs: every bootloader layout read back by independent
 * tools (sgdisk, fsck.vfat/mtools, xfs_repair/xfs_db, qemu-img), GRUB's BIOS boot code patched in
 * place, META decoded, the overlay's raw and file writes kept where upstream keeps them, OVA and
 * qcow2 outputs, reproducibility, and no output left behind on failure.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { buildImageOutput, type ImageInputs } from "../../src/imager/disk/index.js";
import { readGpt } from "../../src/imager/disk/gpt-file.js";
import { decodeMetaPartition } from "../../src/formats/meta/index.js";
import { extractRegion } from "../../src/imager/filesystems/sparse-file.js";
import { makeCoreImage, patchBiosBootCode } from "../../src/imager/grub-bios/boot-code.js";
import { openOverlay, overlayGetOptions } from "../../src/imager/overlay/index.js";
import { run } from "../../src/imager/tools/run.js";
import type { Profile } from "../../src/profile/model.js";

const MIB = 1024 * 1024;
const GRUB_DIR = process.env.BOOTFORGE_GRUB_DIR ?? "/usr/lib/grub";
let dir = "";
let inputs: ImageInputs;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-image-test-"));
  const f = (name: string, content: string) => {
    const p = join(dir, name);
    return writeFile(p, content).then(() => p);
  };
  inputs = {
    kernel: await f("vmlinuz", "kernel".repeat(1000)),
    initramfs: await f("initramfs.xz", "initramfs"),
    uki: await f("uki.efi", "MZ-uki".repeat(1000)),
    sdBoot: await f("systemd-boot.efi", "MZ-sdboot"),
    grubDir: GRUB_DIR,
  };
});
after(async () => rm(dir, { recursive: true, force: true }));

function profile(p: {
  version: string;
  arch: "amd64" | "arm64";
  bootloader: "grub" | "sd-boot" | "dual-boot";
  diskSize: number;
  diskFormat?: "raw" | "qcow2" | "vhd" | "ova";
  sector?: number;
  outFormat?: "raw" | ".xz" | ".zst";
  meta?: { key: number; value: string }[];
}): Profile {
  return {
    arch: p.arch,
    platform: "metal",
    secureboot: false,
    version: p.version,
    ...(p.meta ? { customization: { metaContents: p.meta } } : {}),
    output: {
      kind: "image",
      outFormat: p.outFormat ?? "raw",
      imageOptions: {
        diskSize: p.diskSize,
        diskFormat: p.diskFormat ?? "raw",
        bootloader: p.bootloader,
        ...(p.sector ? { diskSectorSize: p.sector } : {}),
      },
    },
  };
}

async function cut(image: string, name: string, sectorSize: 512 | 4096 = 512): Promise<string> {
  const t = await readGpt(image, sectorSize);
  const part = t.partitions.find((p) => p.name === name);
  assert.ok(part, `partition ${name}`);
  const out = join(dir, `${name}-${Date.now()}.part`);
  await extractRegion(image, part.offset, part.size, out);
  return out;
}

const mdir = async (img: string, path: string) =>
  (await run("mdir", ["-b", "-i", img, path], { env: { MTOOLS_SKIP_CHECK: "1" } })).stdout.toString();
const xfsLs = async (img: string, path: string) =>
  (await run("xfs_db", ["-r", "-c", `ls ${path}`, img])).stdout.toString();

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const f = await open(path, "r");
  try {
    const b = Buffer.alloc(length);
    await f.read(b, 0, length, offset);
    return b;
  } finally {
    await f.close();
  }
}

test("dual-boot amd64 (1.10): layout, sd-boot EFI, GRUB BOOT, BIOS boot code, META with 0x11, reproducible", async () => {
  const prof = profile({
    version: "v1.10.0",
    arch: "amd64",
    bootloader: "dual-boot",
    diskSize: 2200 * MIB,
    meta: [{ key: 0x0a, value: "network: config" }],
  });
  const a = join(dir, "dual-a.raw");
  const b = join(dir, "dual-b.raw");
  const opts = {
    profile: prof,
    cmdline: "talos.platform=metal console=ttyS0",
    inputs,
    epoch: 1700000000,
    scratchDir: dir,
  };
  const result = await buildImageOutput({ ...opts, output: a });
  await buildImageOutput({ ...opts, output: b });
  assert.equal(result.path, a);
  assert.equal(spawnSync("cmp", ["-s", a, b]).status, 0, "two builds are byte-identical");
  await rm(b);

  const st = await stat(a);
  assert.equal(st.size, 2200 * MIB);
  assert.ok(st.blocks * 512 < 200 * MIB, `sparse: ${st.blocks * 512} bytes allocated`);
  assert.match((await run("sgdisk", ["-v", a])).stdout.toString(), /No problems found/);
  const table = await readGpt(a);
  assert.deepEqual(
    table.partitions.map((p) => [p.name, p.size / MIB]),
    [
      ["EFI", 1101],
      ["BIOS", 1],
      ["BOOT", 1000],
      ["META", 1],
    ],
  );

  const efi = await cut(a, "EFI");
  await run("fsck.vfat", ["-n", efi]);
  assert.match(await mdir(efi, "::/EFI/Linux"), /Talos-v1\.10\.0\.efi/);
  assert.match(await mdir(efi, "::/EFI/boot"), /BOOTX64\.efi/);
  assert.match(await mdir(efi, "::/loader"), /loader\.conf/);
  const boot = await cut(a, "BOOT");
  await run("xfs_repair", ["-n", boot]);
  assert.match(await xfsLs(boot, "/A"), /vmlinuz[\s\S]*initramfs\.xz|initramfs\.xz[\s\S]*vmlinuz/);
  assert.match(await xfsLs(boot, "/grub"), /grub\.cfg/);
  assert.doesNotMatch(await xfsLs(boot, "/"), /EFI/);

  const meta = decodeMetaPartition(await readFile(await cut(a, "META")));
  assert.deepEqual(meta.values, [
    { key: 0x0a, value: "network: config" },
    { key: 0x11, value: "dual-boot" },
  ]);

  // GRUB's boot.img in the MBR code area, patched to find core.img in the BIOS partition
  const bios = table.partitions.find((p) => p.name === "BIOS")!;
  const core = join(dir, "core.img");
  await makeCoreImage({ moduleDir: join(GRUB_DIR, "i386-pc"), output: core });
  const expected = patchBiosBootCode(
    await readFile(join(GRUB_DIR, "i386-pc", "boot.img")),
    await readFile(core),
    bios.firstLBA,
  );
  const mbr = await readAt(a, 0, 512);
  assert.ok(mbr.subarray(0, 446).equals(expected.mbrCode), "boot.img code area");
  assert.equal(mbr.readBigUInt64LE(0x5c), BigInt(bios.firstLBA));
  assert.equal(mbr[450], 0xee, "protective MBR kept");
  const coreOnDisk = await readAt(a, bios.offset, expected.core.length);
  assert.ok(coreOnDisk.equals(expected.core), "core.img at the BIOS partition");
  assert.equal(coreOnDisk.readBigUInt64LE(0x1f4), BigInt(bios.firstLBA + 1));
});

test("legacy GRUB (1.7) with the fixture overlay: offset table, raw u-boot kept, overlay files in BOOT, OVA", async () => {
  const root = join(dir, "overlay");
  await mkdir(join(root, "installers"), { recursive: true });
  await mkdir(join(root, "artifacts", "arm64", "u-boot", "bootforge_sbc"), { recursive: true });
  await mkdir(join(root, "artifacts", "arm64", "dtb", "broadcom"), { recursive: true });
  await mkdir(join(root, "artifacts", "arm64", "firmware"), { recursive: true });
  await writeFile(join(root, "artifacts", "arm64", "u-boot", "bootforge_sbc", "u-boot.bin"), "U-BOOT!!");
  await writeFile(join(root, "artifacts", "arm64", "dtb", "broadcom", "board.dtb"), "dtb");
  await writeFile(join(root, "artifacts", "arm64", "firmware", "config.txt"), "arm_64bit=1\n");
  await writeFile(join(root, "installers", "default"), await readFile("fixtures/overlay/installer.sh"));
  await chmod(join(root, "installers", "default"), 0o755);
  const ov = await openOverlay(root);
  const work = join(dir, "ov-work");
  await mkdir(work, { recursive: true });
  const got = await overlayGetOptions(ov.installer, {}, { workDir: work });

  const prof = profile({
    version: "v1.7.0",
    arch: "amd64",
    bootloader: "grub",
    diskSize: 1400 * MIB,
    diskFormat: "raw",
  });
  const raw = join(dir, "legacy.raw");
  await buildImageOutput({
    profile: prof,
    cmdline: "talos.platform=metal",
    inputs,
    output: raw,
    overlay: { dir: ov, partitionOffset: got.partitionOffset },
    scratchDir: dir,
  });
  const table = await readGpt(raw);
  assert.equal(table.primaryEntriesLBA, 2 + 2048);
  assert.deepEqual(
    table.partitions.map((p) => p.name),
    ["EFI", "BIOS", "BOOT", "META", "STATE", "EPHEMERAL"],
  );
  assert.match((await run("sgdisk", ["-v", raw])).stdout.toString(), /No problems found/);
  assert.equal(
    (await readAt(raw, 64 * 512, 8)).toString(),
    "U-BOOT!!",
    "raw write outside the partitions kept",
  );
  const boot = await cut(raw, "BOOT");
  assert.match(await xfsLs(boot, "/EFI"), /config\.txt/);
  // no META values, no dual-boot: META stays all zeroes as upstream leaves it
  assert.ok((await readFile(await cut(raw, "META"))).equals(Buffer.alloc(MIB)));

  const ova = join(dir, "legacy.ova");
  const prof2 = profile({
    version: "v1.7.0",
    arch: "amd64",
    bootloader: "grub",
    diskSize: 1400 * MIB,
    diskFormat: "ova",
  });
  await buildImageOutput({
    profile: prof2,
    cmdline: "talos.platform=metal",
    inputs,
    output: ova,
    epoch: 1,
    scratchDir: dir,
  });
  const list = (await run("tar", ["-tvf", ova])).stdout.toString();
  assert.match(list, /^-rw-r--r-- 0\/0 .* disk\.ovf\n.* disk\.mf\n.* disk\.vmdk\n$/);
  const x = join(dir, "ova-x");
  await mkdir(x);
  await run("tar", ["-xf", ova, "-C", x]);
  assert.deepEqual((await readdir(x)).sort(), ["disk.mf", "disk.ovf", "disk.vmdk"]);
  const info = JSON.parse(
    (await run("qemu-img", ["info", "--output=json", join(x, "disk.vmdk")])).stdout.toString(),
  ) as {
    "virtual-size": number;
    "format-specific": { data: { "create-type": string } };
  };
  assert.equal(info["virtual-size"], 1400 * MIB);
  assert.equal(info["format-specific"].data["create-type"], "streamOptimized");
  await run("qemu-img", ["check", join(x, "disk.vmdk")]);
  const ovf = await readFile(join(x, "disk.ovf"), "utf8");
  assert.match(ovf, /ovf:capacity="1400"/);
  assert.match(ovf, new RegExp(`ovf:size="${(await stat(join(x, "disk.vmdk"))).size}"`));
  const mf = await readFile(join(x, "disk.mf"), "utf8");
  assert.match(mf, /^SHA256\(disk\.vmdk\)= [0-9a-f]{64}\nSHA256\(disk\.ovf\)= [0-9a-f]{64}\n$/);
});

test("sd-boot arm64 (1.11), 4096-byte sectors, qcow2 + .zst", async () => {
  const prof = profile({
    version: "v1.11.0",
    arch: "arm64",
    bootloader: "sd-boot",
    diskSize: 2200 * MIB,
    sector: 4096,
    diskFormat: "qcow2",
    outFormat: ".zst",
  });
  const out = join(dir, "sd.qcow2");
  const r = await buildImageOutput({ profile: prof, cmdline: "x", inputs, output: out, scratchDir: dir });
  assert.equal(r.path, `${out}.zst`);
  await assert.rejects(stat(out), { code: "ENOENT" });
  assert.deepEqual(
    r.table.partitions.map((p) => [p.name, p.size / MIB]),
    [
      ["EFI", 2101],
      ["META", 1],
    ],
  );
  const q = join(dir, "sd-x.qcow2");
  await run("zstd", ["-d", "-q", "-o", q, r.path]);
  await run("qemu-img", ["check", q]);
  const raw = join(dir, "sd-x.raw");
  await run("qemu-img", ["convert", "-O", "raw", q, raw]);
  const efi = await cut(raw, "EFI", 4096);
  await run("fsck.vfat", ["-n", efi]);
  assert.match(await mdir(efi, "::/EFI/boot"), /BOOTAA64\.efi/);
  assert.match(await mdir(efi, "::/EFI/Linux"), /Talos-v1\.11\.0\.efi/);
});

test("bad input fails with a typed error and leaves no output", async () => {
  const out = join(dir, "bad.raw");
  const prof = profile({ version: "v1.10.0", arch: "amd64", bootloader: "grub", diskSize: 1400 * MIB });
  await assert.rejects(
    buildImageOutput({
      profile: prof,
      cmdline: "x",
      inputs: { ...inputs, kernel: join(dir, "missing") },
      output: out,
      scratchDir: dir,
    }),
  );
  await assert.rejects(stat(out), { code: "ENOENT" });
  const arm = profile({ version: "v1.10.0", arch: "arm64", bootloader: "dual-boot", diskSize: 2200 * MIB });
  await assert.rejects(
    buildImageOutput({ profile: arm, cmdline: "x", inputs, output: out, scratchDir: dir }),
    /only supported on amd64/,
  );
  await assert.rejects(stat(out), { code: "ENOENT" });
});

import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { run } from "../tools/run.js";
import { buildDiskImage, type DiskImageOptions } from "./disk-image.js";
import { diskLayout, imageCachePartitionSize } from "../../formats/disk-layout.js";
import { readGpt } from "./gpt-file.js";
import { guidFromLabel } from "../../formats/guid.js";
import { extractRegion } from "../filesystems/sparse-file.js";
import { makeSampleTree, sameBytes } from "../filesystems/test-fixtures.js";

const MIB = 1024 * 1024;
const EPOCH = 1700000000;
let dir = "";
let efi = "";
let boot = "";
let cache = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-disk-test-"));
  efi = join(dir, "efi");
  boot = join(dir, "boot");
  cache = join(dir, "cache");
  await mkdir(join(efi, "EFI", "boot"), { recursive: true });
  await writeFile(join(efi, "EFI", "boot", "BOOTX64.efi"), Buffer.alloc(4096, 0x4d));
  await makeSampleTree(boot);
  await mkdir(join(cache, "blob"), { recursive: true });
  await writeFile(join(cache, "blob", "sha256-00"), Buffer.alloc(100 * 1024, 1));
});
after(async () => rm(dir, { recursive: true, force: true }));

// boot.img stand-in: upstream writes its first 446 bytes at offset 0 after the GPT
const bootCode = Buffer.alloc(446, 0xeb);

function grubImage(path: string): DiskImageOptions {
  const imageCacheSize = imageCachePartitionSize(100 * 1024);
  return {
    path,
    diskSize: 1200 * MIB,
    version: "v1.9.4",
    layout: diskLayout({ version: "v1.9.4", arch: "amd64", bootloader: "grub", imageCacheSize }),
    contents: { EFI: { sourceDir: efi }, BOOT: { sourceDir: boot }, IMAGECACHE: { sourceDir: cache } },
    epoch: EPOCH,
    scratchDir: dir,
    hooks: [
      async ({ file, partition }) => {
        assert.equal(partition("BIOS")?.firstLBA, 206848);
        await file.write(bootCode, 0, bootCode.length, 0);
      },
    ],
  };
}

test("GRUB layout with an image cache: table, filesystems, hook, sparse, reproducible", async () => {
  const a = join(dir, "a.raw");
  const b = join(dir, "b.raw");
  const result = await buildDiskImage(grubImage(a));
  await buildDiskImage(grubImage(b));
  assert.ok(await sameBytes(a, b), "two builds are byte-identical");

  const st = await stat(a);
  assert.equal(st.size, 1200 * MIB);
  assert.ok(st.blocks * 512 < 64 * MIB, `sparse: ${st.blocks * 512} bytes allocated`);

  const table = await readGpt(a);
  assert.deepEqual(table, result.table);
  assert.deepEqual(
    table.partitions.map((p) => p.name),
    ["EFI", "BIOS", "BOOT", "META", "IMAGECACHE"],
  );
  assert.equal(table.diskGuid, guidFromLabel("talos-image-disk"));
  const { stdout } = await run("sgdisk", ["-v", a]);
  assert.match(stdout.toString(), /No problems found/);

  // each filesystem, cut out of the disk, passes its own checker
  const part = (name: string) => table.partitions.find((p) => p.name === name)!;
  const cut = async (name: string) => {
    const out = join(dir, `${name}.part`);
    await extractRegion(a, part(name).offset, part(name).size, out);
    return out;
  };
  const efiImg = await cut("EFI");
  await run("fsck.vfat", ["-n", efiImg]);
  const listing = await run("mdir", ["-b", "-i", efiImg, "::/EFI/boot"], { env: { MTOOLS_SKIP_CHECK: "1" } });
  assert.match(listing.stdout.toString(), /BOOTX64\.efi/);
  const bootImg = await cut("BOOT");
  await run("xfs_repair", ["-n", bootImg]);
  assert.match((await run("xfs_db", ["-r", "-c", "ls /A", bootImg])).stdout.toString(), /vmlinuz/);
  const cacheImg = await cut("IMAGECACHE");
  await run("e2fsck", ["-fn", cacheImg]);
  assert.match(
    (await run("debugfs", ["-R", "ls -l /blob", cacheImg])).stdout.toString(),
    /102400 .*sha256-00/,
  );
  await Promise.all([efiImg, bootImg, cacheImg].map((f) => rm(f)));

  const head = Buffer.alloc(512);
  const fh = await import("node:fs/promises").then((m) => m.open(a, "r"));
  await fh.read(head, 0, 512, 0);
  await fh.close();
  assert.ok(head.subarray(0, 446).equals(bootCode), "hook output survives");
  assert.equal(head[450], 0xee);
});

test("sd-boot layout with 4096-byte sectors: FAT built with -S 4096, table read back by fdisk", async () => {
  const path = join(dir, "4k.raw");
  const { table } = await buildDiskImage({
    path,
    diskSize: 1110 * MIB,
    sectorSize: 4096,
    version: "v1.10.2",
    layout: diskLayout({ version: "v1.10.2", arch: "arm64", bootloader: "sd-boot" }),
    contents: { EFI: { sourceDir: efi } },
    epoch: EPOCH,
    scratchDir: dir,
  });
  assert.deepEqual(
    table.partitions.map((p) => [p.name, p.firstLBA, p.lastLBA]),
    [
      ["EFI", 256, 256 + 1101 * 256 - 1],
      ["META", 256 + 1101 * 256, 256 + 1102 * 256 - 1],
    ],
  );
  assert.deepEqual(await readGpt(path, 4096), table);
  const { stdout } = await run("fdisk", ["-b", "4096", "-l", path]);
  assert.match(stdout.toString(), /Disklabel type: gpt/);
  const efiImg = join(dir, "efi4k.part");
  await extractRegion(path, table.partitions[0]!.offset, table.partitions[0]!.size, efiImg);
  const info = await run("fsck.vfat", ["-n", "-v", efiImg]);
  assert.match(info.stdout.toString(), /4096 bytes per logical sector/);
  await rm(efiImg);
  await rm(path);
});

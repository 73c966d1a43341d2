import assert from "node:assert/strict";
import { test } from "node:test";
import { isBootforgeError } from "../errors/index.js";
import { readVectors } from "../../test/helpers/shared.js";
import { GPT_ATTR_LEGACY_BIOS_BOOTABLE, GPT_TYPE, planGpt } from "./gpt.js";
import { guidFromLabel } from "./guid.js";
import { diskLayout, DISK_IMAGE_LABEL, imageCachePartitionSize, type DiskBootloader } from "./disk-layout.js";

const MIB = 1024 * 1024;
const names = (v: string, arch: "amd64" | "arm64", bootloader: DiskBootloader, imageCacheSize?: number) =>
  diskLayout({ version: v, arch, bootloader, ...(imageCacheSize ? { imageCacheSize } : {}) }).map((p) => [
    p.name,
    p.size / MIB,
    p.filesystem,
  ]);

test("grub: EFI 100 MiB vfat, BIOS, BOOT xfs (1000 MiB < 1.11, 2000 MiB after), META", () => {
  assert.deepEqual(names("v1.9.4", "amd64", "grub"), [
    ["EFI", 100, "vfat"],
    ["BIOS", 1, "zeroes"],
    ["BOOT", 1000, "xfs"],
    ["META", 1, "zeroes"],
  ]);
  assert.deepEqual(names("v1.11.0", "arm64", "grub")[2], ["BOOT", 2000, "xfs"]);
  const bios = diskLayout({ version: "v1.9.0", arch: "amd64", bootloader: "grub" })[1]!;
  assert.equal(bios.type, GPT_TYPE.biosBoot);
  assert.equal(bios.attributes, GPT_ATTR_LEGACY_BIOS_BOOTABLE);
  assert.equal(bios.guid, guidFromLabel("BIOS"));
});

test("sd-boot: EFI of UKI size (1101/2101 MiB) and META; dual-boot adds BIOS and BOOT; arm64 dual-boot is unsupported", () => {
  assert.deepEqual(names("v1.10.0", "arm64", "sd-boot"), [
    ["EFI", 1101, "vfat"],
    ["META", 1, "zeroes"],
  ]);
  assert.deepEqual(names("v1.12.0", "amd64", "dual-boot"), [
    ["EFI", 2101, "vfat"],
    ["BIOS", 1, "zeroes"],
    ["BOOT", 2000, "xfs"],
    ["META", 1, "zeroes"],
  ]);
  assert.throws(
    () => diskLayout({ version: "v1.12.0", arch: "arm64", bootloader: "dual-boot" }),
    (e: unknown) => isBootforgeError(e, "unsupported"),
  );
});

test("< 1.8 adds STATE (100 MiB) and EPHEMERAL (rest), unformatted; an image cache adds IMAGECACHE ext4 last", () => {
  assert.deepEqual(names("v1.7.6", "amd64", "grub", 3 * MIB).slice(3), [
    ["META", 1, "zeroes"],
    ["STATE", 100, "none"],
    ["EPHEMERAL", 0, "none"],
    ["IMAGECACHE", 3, "ext4"],
  ]);
  assert.equal(names("v1.8.0", "amd64", "grub").length, 4);
});

test("image cache size: +20 % then up to 1 MiB", () => {
  assert.equal(imageCachePartitionSize(0), 0);
  assert.equal(imageCachePartitionSize(1), MIB);
  assert.equal(imageCachePartitionSize(10 * MIB), 12 * MIB);
  assert.equal(imageCachePartitionSize(10 * MIB + 5), 13 * MIB);
});

interface LayoutVector {
  talosVersion: string;
  arch: string;
  kind: string;
  partitions: { label: string; size: number }[];
}

test("layouts match every row of the factory integration expectations (default and secureboot metal)", () => {
  const vectors = readVectors<{ partitionLayouts: { layouts: LayoutVector[] } }>(
    "integration-expectations.json",
  );
  const rows = vectors.partitionLayouts.layouts;
  assert.ok(rows.length >= 20);
  for (const r of rows) {
    const v = r.talosVersion;
    const minor = Number(/^v1\.(\d+)/.exec(v)?.[1]);
    for (const arch of r.arch.split("|") as ("amd64" | "arm64")[]) {
      // metal defaults: GRUB before 1.10, then dual-boot on amd64 and sd-boot on arm64; SecureBoot is sd-boot
      const bootloader: DiskBootloader = r.kind.startsWith("secureboot")
        ? "sd-boot"
        : minor < 10
          ? "grub"
          : arch === "amd64"
            ? "dual-boot"
            : "sd-boot";
      const layout = diskLayout({ version: v, arch, bootloader });
      const table = planGpt(
        { diskSize: 8192 * MIB, sectorSize: 512, diskGuid: guidFromLabel(DISK_IMAGE_LABEL) },
        layout,
      );
      assert.deepEqual(
        table.partitions.map((p) => ({ label: p.name, size: p.name === "EPHEMERAL" ? 0 : p.size })),
        r.partitions,
        `${v} ${arch} ${r.kind}`,
      );
    }
  }
});

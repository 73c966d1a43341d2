/**
 * GRUB's BIOS boot code for disk images without grub-install (imager.md §5.5): boot.img goes into
 * the MBR's code area (the partition table after byte 446 is kept), core.img into the BIOS boot
 * partition, and the blocklists are patched so each stage finds the next by absolute sector.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput, unsupported } from "../../errors/index.js";
import type { DiskImageHook } from "../disk/disk-image.js";
import { run } from "../tools/run.js";

/** Bytes of boot.img that go to disk: the MBR code area before the partition table. */
export const MBR_CODE_SIZE = 446;
/** boot.img offset of the u64 LBA of core.img's first sector (GRUB_BOOT_MACHINE_KERNEL_SECTOR). */
export const BOOT_KERNEL_SECTOR_OFFSET = 0x5c;
/** boot.img offset of the jump that probes the boot drive; NOPs make it always use the BIOS drive. */
export const BOOT_DRIVE_CHECK_OFFSET = 0x66;
/** core.img offset of the u64 start LBA of its first blocklist (the rest of core.img). */
export const CORE_BLOCKLIST_OFFSET = 0x1f4;

/** GRUB modules upstream links into core.img (GRUB's `<mods>` plus biosdisk and part_msdos). */
export const CORE_MODULES = [
  "part_gpt", "ext2", "fat", "xfs", "normal", "configfile", "linux", "boot", "search", "search_fs_uuid",
  "search_fs_file", "ls", "cat", "echo", "test", "help", "reboot", "halt", "all_video", "biosdisk", "part_msdos",
] as const; // prettier-ignore

/** Where GRUB finds its config on Talos disk images: the XFS BOOT partition (gpt3). */
export const GRUB_IMAGE_PREFIX = "(hd0,gpt3)/grub";

/** Options of `makeCoreImage`. */
export interface CoreImageOptions {
  /** The release's `/usr/lib/grub/i386-pc` directory (modules and boot.img). */
  moduleDir: string;
  output: string;
  prefix?: string;
  signal?: AbortSignal;
}

/** Links core.img with `grub-mkimage -O i386-pc` from the release's modules (not the host's). */
export async function makeCoreImage(options: CoreImageOptions): Promise<void> {
  const args = [
    "--directory", options.moduleDir,
    "--format", "i386-pc",
    "--output", options.output,
    "--prefix", options.prefix ?? GRUB_IMAGE_PREFIX,
    ...CORE_MODULES,
  ]; // prettier-ignore
  await run("grub-mkimage", args, {
    errorKind: "io",
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** Patched copies of boot.img (its MBR code area) and core.img for a BIOS partition at `biosFirstLBA`. */
export function patchBiosBootCode(
  bootImg: Uint8Array,
  coreImg: Uint8Array,
  biosFirstLBA: number,
): { mbrCode: Buffer; core: Buffer } {
  if (bootImg.length !== 512) throw invalidInput(`boot.img must be 512 bytes, got ${bootImg.length}`);
  if (coreImg.length < 512) throw invalidInput(`core.img is ${coreImg.length} bytes, too small to be GRUB's`);
  const boot = Buffer.from(bootImg);
  const core = Buffer.from(coreImg);
  boot.writeBigUInt64LE(BigInt(biosFirstLBA), BOOT_KERNEL_SECTOR_OFFSET);
  boot[BOOT_DRIVE_CHECK_OFFSET] = 0x90;
  boot[BOOT_DRIVE_CHECK_OFFSET + 1] = 0x90;
  core.writeBigUInt64LE(BigInt(biosFirstLBA + 1), CORE_BLOCKLIST_OFFSET);
  return { mbrCode: boot.subarray(0, MBR_CODE_SIZE), core };
}

/** Reads boot.img from `moduleDir` and core.img from `coreImage`, for `biosBootHook`. */
export async function loadBiosBootCode(
  moduleDir: string,
  coreImage: string,
): Promise<{ bootImg: Buffer; coreImg: Buffer }> {
  return {
    bootImg: await readFile(join(moduleDir, "boot.img")),
    coreImg: await readFile(coreImage),
  };
}

/** A disk-image hook that embeds the patched boot code: MBR code area and the BIOS partition. */
export function biosBootHook(bootImg: Uint8Array, coreImg: Uint8Array): DiskImageHook {
  return async ({ file, partition }) => {
    const bios = partition("BIOS");
    if (!bios) throw unsupported("this disk layout has no BIOS boot partition for GRUB's core.img");
    if (coreImg.length > bios.size) {
      throw invalidInput(`core.img is ${coreImg.length} bytes, the BIOS partition holds ${bios.size}`);
    }
    const { mbrCode, core } = patchBiosBootCode(bootImg, coreImg, Number(bios.firstLBA));
    await file.write(mbrCode, 0, mbrCode.length, 0);
    await file.write(core, 0, core.length, bios.offset);
  };
}

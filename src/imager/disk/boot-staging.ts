/**
 * Stages boot partition contents under a mount prefix `M`, as upstream's bootloader
 * `PrepareBootPartitions` does in image mode: GRUB puts kernel, initramfs and grub.cfg in `M/boot`
 * (the BOOT partition) and its EFI binary in `M/EFI`; sd-boot builds `M/boot/EFI` and renames it
 * to `M/EFI`, so files an overlay put in `M/boot/EFI` end up on the EFI partition in dual-boot.
 */
import { chmod, copyFile, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import { Quirks } from "../../profile/quirks.js";
import { makeCoreImage } from "../grub-bios/boot-code.js";
import { run } from "../tools/run.js";
import { grubImageConfig } from "./grub-config.js";

/** GRUB modules linked into the EFI and BIOS images (upstream's `<mods>`). */
export const GRUB_MODULES = [
  "part_gpt", "ext2", "fat", "xfs", "normal", "configfile", "linux", "boot", "search", "search_fs_uuid",
  "search_fs_file", "ls", "cat", "echo", "test", "help", "reboot", "halt", "all_video",
] as const; // prettier-ignore

/** The removable-media loader name per architecture (lower-case on disk images, as upstream). */
export const EFI_BOOT_NAME = { amd64: "BOOTX64.efi", arm64: "BOOTAA64.efi" } as const;

const GRUB_EFI_PLATFORM = { amd64: "x86_64-efi", arm64: "arm64-efi" } as const;

async function copyAsset(from: string, to: string, mode = 0o644): Promise<void> {
  await mkdir(join(to, ".."), { recursive: true });
  await copyFile(from, to);
  // the host umask and the source's mode must not leak into the image
  await chmod(to, mode);
}

/** Inputs of `stageGrub`. */
export interface GrubStagingOptions {
  mountPrefix: string;
  arch: "amd64" | "arm64";
  version: string;
  cmdline: string;
  kernel: string;
  initramfs: string;
  /** The release's `/usr/lib/grub` (holding `i386-pc`, `x86_64-efi`, `arm64-efi`). */
  grubDir: string;
  /** Runs after staging (the overlay's `install`), as upstream's ExtraInstallStep. */
  extraInstallStep?: () => Promise<void>;
  signal?: AbortSignal;
}

/** What GRUB staging produced: partition source dirs and, on amd64, core.img. */
export interface GrubStaged {
  bootDir: string;
  efiDir: string;
  coreImage?: string;
  biosModuleDir?: string;
}

/** Stages the GRUB boot files (BOOT partition tree, EFI loader, core.img on amd64). */
export async function stageGrub(o: GrubStagingOptions): Promise<GrubStaged> {
  const m = o.mountPrefix;
  const sig = o.signal ? { signal: o.signal } : {};
  const bootDir = join(m, "boot");
  await copyAsset(o.kernel, join(bootDir, "A", "vmlinuz"));
  await copyAsset(o.initramfs, join(bootDir, "A", "initramfs.xz"));
  await mkdir(join(bootDir, "grub"), { recursive: true });
  const cfg = grubImageConfig({
    version: o.version,
    cmdline: o.cmdline,
    resetOption: new Quirks(o.version).supportsResetGrubOption,
  });
  await writeFile(join(bootDir, "grub", "grub.cfg"), cfg, { mode: 0o600 });
  await chmod(join(bootDir, "grub", "grub.cfg"), 0o600);

  const staged: GrubStaged = { bootDir, efiDir: join(m, "EFI") };
  if (o.arch === "amd64") {
    const biosModuleDir = join(o.grubDir, "i386-pc");
    staged.coreImage = join(m, "core.img");
    staged.biosModuleDir = biosModuleDir;
    await makeCoreImage({ moduleDir: biosModuleDir, output: staged.coreImage, ...sig });
  }
  const efiImage = join(m, "grub-efi.img");
  const efiPlatform = GRUB_EFI_PLATFORM[o.arch];
  await run(
    "grub-mkimage",
    [
      "--directory", join(o.grubDir, efiPlatform),
      "--format", efiPlatform,
      "--output", efiImage,
      "--prefix", "(hd0,gpt3)/grub",
      "--compression", "xz",
      ...GRUB_MODULES,
    ], // prettier-ignore
    sig,
  );
  await copyAsset(efiImage, join(staged.efiDir, "EFI", "boot", EFI_BOOT_NAME[o.arch]));
  await rm(efiImage);
  if (o.extraInstallStep) await o.extraInstallStep();
  return staged;
}

/** SecureBoot key auto-enrollment files for sd-boot (`loader/keys/auto`). */
export interface EnrollKeys {
  /** `secure-boot-enroll` mode written to loader.conf. */
  mode: "if-safe" | "manual" | "force";
  pk: string;
  kek: string;
  db: string;
}

/** Inputs of `stageSdBoot`. */
export interface SdBootStagingOptions {
  mountPrefix: string;
  arch: "amd64" | "arm64";
  version: string;
  /** The UKI (signed when SecureBoot). */
  uki: string;
  /** systemd-boot (signed when SecureBoot). */
  sdBoot: string;
  enrollKeys?: EnrollKeys;
}

/** The loader.conf of disk images (upstream: timeout 10, plus the enroll mode when keys are staged). */
export function loaderConf(enrollMode?: string): string {
  let s = "# systemd-boot configuration\n\ntimeout 10\n";
  if (enrollMode) s += `\nsecure-boot-enroll ${enrollMode}\n`;
  return s;
}

/** Stages the sd-boot EFI partition tree; returns its directory (`M/EFI`). */
export async function stageSdBoot(o: SdBootStagingOptions): Promise<string> {
  const m = o.mountPrefix;
  const staging = join(m, "boot", "EFI");
  await mkdir(join(staging, "loader"), { recursive: true });
  await writeFile(join(staging, "loader", "loader.conf"), loaderConf(o.enrollKeys?.mode), { mode: 0o644 });
  if (o.enrollKeys) {
    const keys = join(staging, "loader", "keys", "auto");
    await copyAsset(o.enrollKeys.pk, join(keys, "PK.auth"));
    await copyAsset(o.enrollKeys.kek, join(keys, "KEK.auth"));
    await copyAsset(o.enrollKeys.db, join(keys, "db.auth"));
  }
  if (!/^[^/\\\s]+$/.test(o.version))
    throw invalidInput(`version ${JSON.stringify(o.version)} cannot name a UKI`);
  await copyAsset(o.uki, join(staging, "EFI", "Linux", `Talos-${o.version}.efi`));
  await copyAsset(o.sdBoot, join(staging, "EFI", "boot", EFI_BOOT_NAME[o.arch]));
  const efiDir = join(m, "EFI");
  await rm(efiDir, { recursive: true, force: true });
  await rename(staging, efiDir);
  return efiDir;
}

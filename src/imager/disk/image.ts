/**
 * The `image` output (upstream `outImage` + `Install(ModeImage)`): stage boot files for the
 * profile's bootloader, run the overlay's install step, build the raw disk with the per-version
 * layout (GRUB BIOS boot code and META as hooks, IMAGECACHE when a cache is given), then convert
 * to the disk format (raw, qcow2, vhd, ova) and apply the output compression. Nothing is left at
 * the output path when any step fails.
 */
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { invalidInput, unsupported } from "../../errors/index.js";
import type { MetaValue, Profile } from "../../profile/model.js";
import { Quirks } from "../../profile/quirks.js";
import { compressFile } from "./compress.js";
import { convertDiskImage } from "./disk-format.js";
import { buildDiskImage, type DiskImageHook, type PartitionContent } from "./disk-image.js";
import {
  diskLayout,
  imageCachePartitionSize,
  type DiskBootloader,
  type PartitionLabel,
} from "../../formats/disk-layout.js";
import type { GptTable } from "../../formats/gpt.js";
import { encodeMetaPartition, META_PARTITION_SIZE } from "../../formats/meta/index.js";
import { writeOva } from "./ova.js";
import { readTree, treeFileBytes } from "../filesystems/source-tree.js";
import { biosBootHook, loadBiosBootCode } from "../grub-bios/boot-code.js";
import type { OverlayDir } from "../overlay/overlay-image.js";
import { overlayInstall } from "../overlay/protocol.js";
import type { OverlayOptionValue } from "../../profile/model.js";
import { createSparseFile } from "../filesystems/sparse-file.js";
import { overlayRawWritesHook } from "./overlay-raw.js";
import { stageGrub, stageSdBoot, type EnrollKeys, type GrubStaged } from "./boot-staging.js";

/** Boot assets the image is made from (paths from the release and earlier stages). */
export interface ImageInputs {
  /** Kernel and rebuilt initramfs (GRUB and dual-boot). */
  kernel?: string;
  initramfs?: string;
  /** UKI and systemd-boot (sd-boot and dual-boot; signed when SecureBoot). */
  uki?: string;
  sdBoot?: string;
  /** The release's `/usr/lib/grub` directory (GRUB and dual-boot). */
  grubDir?: string;
  /** SecureBoot auto-enrollment files (SecureBoot images with enroll mode ≠ off). */
  enrollKeys?: EnrollKeys;
}

/** The overlay of an SBC image: its extracted directory and its get-options reply. */
export interface ImageOverlay {
  dir: OverlayDir;
  /** `partitionOptions.offset` from get-options. */
  partitionOffset: number;
  extraOptions?: { [key: string]: OverlayOptionValue };
  timeoutMs?: number;
}

/** Options of `buildImageOutput`. */
export interface ImageOutputOptions {
  /** A resolved profile with output kind `image`. */
  profile: Profile;
  /** The kernel command line (GRUB's grub.cfg; the UKI already carries its own). */
  cmdline: string;
  inputs: ImageInputs;
  /** The disk-format file to write (`<output>/<outputPath(profile)>`). */
  output: string;
  /** Apply the profile's `outFormat` after the disk format (default true). */
  compress?: boolean;
  overlay?: ImageOverlay;
  /** The extracted image cache (`--image-cache`), placed in the IMAGECACHE partition. */
  imageCacheDir?: string;
  /** SOURCE_DATE_EPOCH (default 0: images are reproducible by default). */
  epoch?: number;
  scratchDir?: string;
  signal?: AbortSignal;
}

/** What was written. */
export interface ImageOutputResult {
  /** Final file (after compression). */
  path: string;
  table: GptTable;
  warnings: string[];
}

/** META key 0x11 (DiskImageBootloader): Talos removes the unused loader on first boot. */
export const META_KEY_DISK_IMAGE_BOOTLOADER = 0x11;

/** The META values of a disk image, or undefined when upstream writes no META (nil list). */
export function diskImageMetaValues(profile: Profile, bootloader: DiskBootloader): MetaValue[] | undefined {
  let values = profile.customization?.metaContents?.map((v) => ({ ...v }));
  const version = profile.version ?? "";
  if (
    profile.arch === "amd64" &&
    profile.secureboot !== true &&
    new Quirks(version).supportsUKIProfiles &&
    bootloader === "dual-boot"
  ) {
    values = [...(values ?? []), { key: META_KEY_DISK_IMAGE_BOOTLOADER, value: "dual-boot" }];
  }
  return values;
}

function need(value: string | undefined, what: string): string {
  if (!value) throw invalidInput(`the image output needs ${what}`);
  return value;
}

/** Builds the `image` output of `profile`; returns the final path. */
export async function buildImageOutput(o: ImageOutputOptions): Promise<ImageOutputResult> {
  const p = o.profile;
  const io = p.output?.imageOptions;
  if (p.output?.kind !== "image" || !io) throw invalidInput("the profile's output is not an image");
  const arch = p.arch;
  if (arch !== "amd64" && arch !== "arm64") throw unsupported(`unsupported architecture ${String(arch)}`);
  const version = need(p.version, "a Talos version");
  const bootloader = io.bootloader;
  if (bootloader !== "grub" && bootloader !== "sd-boot" && bootloader !== "dual-boot") {
    throw invalidInput(
      `disk images need a bootloader (grub, sd-boot or dual-boot), got ${String(bootloader)}`,
    );
  }
  const sectorSize = io.diskSectorSize ?? 512;
  if (sectorSize !== 512 && sectorSize !== 4096) throw invalidInput(`unsupported sector size ${sectorSize}`);
  const diskFormat = io.diskFormat ?? "raw";
  if (!["raw", "qcow2", "vhd", "ova"].includes(diskFormat)) {
    throw invalidInput(`unsupported disk format ${JSON.stringify(diskFormat)}`);
  }
  let diskSize = io.diskSize ?? 0;
  if (!Number.isSafeInteger(diskSize) || diskSize <= 0) throw invalidInput("the image needs a disk size");
  const epoch = o.epoch ?? 0;
  const sig = o.signal ? { signal: o.signal } : {};

  await mkdir(dirname(o.output), { recursive: true });
  const scratch = await mkdtemp(join(o.scratchDir ?? tmpdir(), "bootforge-image-"));
  const written: string[] = [];
  try {
    // Image cache: sized as upstream (files + 20 %, MiB-rounded); the disk grows by the same amount.
    let imageCacheSize = 0;
    if (o.imageCacheDir) {
      imageCacheSize = imageCachePartitionSize(treeFileBytes(await readTree(o.imageCacheDir)));
      diskSize += imageCacheSize;
    }
    const layout = diskLayout({ version, arch, bootloader, imageCacheSize });
    const contents: Partial<Record<PartitionLabel, PartitionContent>> = {};
    const hooks: DiskImageHook[] = [];
    const mountPrefix = join(scratch, "image");
    await mkdir(mountPrefix, { recursive: true });

    // Stand-in disk for the overlay installer's raw writes (replayed after the table is written).
    const overlayState: { disk?: string } = {};
    const overlayStep = o.overlay
      ? async () => {
          const ov = o.overlay as ImageOverlay;
          const overlayDisk = join(scratch, "overlay-disk.raw");
          overlayState.disk = overlayDisk;
          await createSparseFile(overlayDisk, diskSize);
          const work = join(scratch, "overlay-work");
          await mkdir(work, { recursive: true });
          await overlayInstall(
            ov.dir.installer,
            {
              installDisk: overlayDisk,
              mountPrefix,
              artifactsPath: ov.dir.artifactsPath,
              ...(ov.extraOptions ? { extraOptions: ov.extraOptions } : {}),
            },
            { workDir: work, ...(ov.timeoutMs ? { timeoutMs: ov.timeoutMs } : {}), ...sig },
          );
        }
      : undefined;

    let grub: GrubStaged | undefined;
    if (bootloader === "grub" || bootloader === "dual-boot") {
      grub = await stageGrub({
        mountPrefix,
        arch,
        version,
        cmdline: o.cmdline,
        kernel: need(o.inputs.kernel, "a kernel"),
        initramfs: need(o.inputs.initramfs, "an initramfs"),
        grubDir: need(o.inputs.grubDir, "the release's GRUB modules"),
        ...(overlayStep ? { extraInstallStep: overlayStep } : {}),
        ...sig,
      });
      contents.BOOT = { sourceDir: grub.bootDir };
      contents.EFI = { sourceDir: grub.efiDir };
    }
    // Upstream never runs the overlay's install for pure sd-boot images (imager.md §9.2 quirk).
    if (bootloader === "sd-boot" || bootloader === "dual-boot") {
      await rm(join(mountPrefix, "EFI"), { recursive: true, force: true });
      const efiDir = await stageSdBoot({
        mountPrefix,
        arch,
        version,
        uki: need(o.inputs.uki, "a UKI"),
        sdBoot: need(o.inputs.sdBoot, "systemd-boot"),
        ...(o.inputs.enrollKeys ? { enrollKeys: o.inputs.enrollKeys } : {}),
      });
      contents.EFI = { sourceDir: efiDir };
    }
    if (o.imageCacheDir) contents.IMAGECACHE = { sourceDir: o.imageCacheDir };

    if (overlayState.disk) hooks.push(overlayRawWritesHook(overlayState.disk, layout));
    if (grub?.coreImage && grub.biosModuleDir) {
      const { bootImg, coreImg } = await loadBiosBootCode(grub.biosModuleDir, grub.coreImage);
      hooks.push(biosBootHook(bootImg, coreImg));
    }
    const meta = diskImageMetaValues(p, bootloader);
    if (meta !== undefined) {
      const metaImage = join(scratch, "meta.img");
      await writeFile(metaImage, encodeMetaPartition(meta, META_PARTITION_SIZE));
      contents.META = { imageFile: metaImage };
    }

    const raw = diskFormat === "raw" ? o.output : join(scratch, "disk.raw");
    written.push(raw);
    const { table, warnings } = await buildDiskImage({
      path: raw,
      diskSize,
      sectorSize,
      layout,
      version,
      contents,
      skipLBAs: o.overlay?.partitionOffset ?? 0,
      epoch,
      scratchDir: scratch,
      hooks,
      ...sig,
    });
    if (diskFormat === "qcow2" || diskFormat === "vhd") {
      written.push(o.output);
      await convertDiskImage(raw, o.output, diskFormat, {
        ...(io.diskFormatOptions !== undefined ? { formatOptions: io.diskFormatOptions } : {}),
        epoch,
        ...sig,
      });
    } else if (diskFormat === "ova") {
      written.push(o.output);
      await writeOva(raw, o.output, { diskSize, scratchDir: scratch, epoch, ...sig });
    }

    let final = o.output;
    const fmt = p.output.outFormat ?? "raw";
    if ((o.compress ?? true) && fmt !== "raw" && fmt !== "unknown") {
      final = `${o.output}${fmt}`;
      const tmp = `${final}.partial`;
      written.push(tmp);
      await compressFile(o.output, tmp, fmt, { epoch, ...sig });
      await rename(tmp, final);
      await rm(o.output, { force: true });
    }
    return { path: final, table, warnings };
  } catch (e) {
    for (const f of written) await rm(f, { force: true });
    throw e;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

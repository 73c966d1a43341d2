/**
 * Partition layouts of Talos disk images, per version, architecture and bootloader, as upstream's
 * installer builds them in image mode (`internal/pkg/partition`, `bootloader/{grub,sdboot,dual}`,
 * `quirks/partitions.go`). Pure: no I/O, so every version can be tested exhaustively.
 */
import { unsupported } from "../errors/index.js";
import { Quirks } from "../profile/quirks.js";
import { GPT_ATTR_LEGACY_BIOS_BOOTABLE, GPT_TYPE, type GptPartitionSpec } from "./gpt.js";
import { guidFromLabel } from "./guid.js";

const MIB = 1024 * 1024;

/** Disk-image bootloaders (`imageOptions.bootloader` / `DiskImageBootloader`). */
export type DiskBootloader = "grub" | "sd-boot" | "dual-boot";

/** How a partition is populated: a filesystem built from a directory, zeroes, or left untouched. */
export type PartitionFilesystem = "vfat" | "xfs" | "ext4" | "zeroes" | "none";

/** Upstream partition labels (also the filesystem labels). */
export type PartitionLabel = "EFI" | "BIOS" | "BOOT" | "META" | "STATE" | "EPHEMERAL" | "IMAGECACHE";

/** One partition of a disk image: GPT spec plus how it is filled. */
export interface PartitionPlan extends GptPartitionSpec {
  name: PartitionLabel;
  filesystem: PartitionFilesystem;
}

/** Inputs that decide the layout. */
export interface DiskLayoutInput {
  /** Talos version of the image (decides BOOT size and legacy STATE/EPHEMERAL). */
  version: string;
  arch: "amd64" | "arm64";
  bootloader: DiskBootloader;
  /** IMAGECACHE partition size in bytes (see `imageCachePartitionSize`); omitted or 0 = no cache. */
  imageCacheSize?: number;
}

/** The label every image's disk GUID is derived from (`diskImageLabel` upstream). */
export const DISK_IMAGE_LABEL = "talos-image-disk";

/** Partition sizes by version (`quirks.PartitionSizes`). */
export function partitionSizes(version: string): {
  grubEFI: number;
  bios: number;
  boot: number;
  ukiEFI: number;
  meta: number;
  state: number;
} {
  const boot = (new Quirks(version).useLargeBootPartition ? 2000 : 1000) * MIB;
  const grubEFI = 100 * MIB;
  const bios = MIB;
  // With a UKI everything lives in EFI: the old EFI + BIOS + BOOT sizes together.
  return { grubEFI, bios, boot, ukiEFI: grubEFI + bios + boot, meta: MIB, state: 100 * MIB };
}

function part(
  name: PartitionLabel,
  type: string,
  size: number,
  filesystem: PartitionFilesystem,
  attributes?: bigint,
): PartitionPlan {
  return {
    name,
    type,
    size,
    filesystem,
    guid: guidFromLabel(name),
    ...(attributes === undefined ? {} : { attributes }),
  };
}

/** The partitions of a disk image, in GPT order, with sizes, types, label-derived GUIDs and filesystems. */
export function diskLayout(input: DiskLayoutInput): PartitionPlan[] {
  const sizes = partitionSizes(input.version);
  const bios = () => part("BIOS", GPT_TYPE.biosBoot, sizes.bios, "zeroes", GPT_ATTR_LEGACY_BIOS_BOOTABLE);
  const boot = () => part("BOOT", GPT_TYPE.linuxData, sizes.boot, "xfs");
  const parts: PartitionPlan[] = [];
  switch (input.bootloader) {
    case "grub":
      parts.push(part("EFI", GPT_TYPE.efi, sizes.grubEFI, "vfat"), bios(), boot());
      break;
    case "sd-boot":
      parts.push(part("EFI", GPT_TYPE.efi, sizes.ukiEFI, "vfat"));
      break;
    case "dual-boot":
      if (input.arch !== "amd64")
        throw unsupported(`dual-boot disk images are only supported on amd64, not ${input.arch}`);
      parts.push(part("EFI", GPT_TYPE.efi, sizes.ukiEFI, "vfat"), bios(), boot());
      break;
    default:
      throw unsupported(`unknown disk image bootloader ${JSON.stringify(input.bootloader)}`);
  }
  parts.push(part("META", GPT_TYPE.linuxData, sizes.meta, "zeroes"));
  if (new Quirks(input.version).partitionSTATEAndEPHEMERAL) {
    parts.push(
      part("STATE", GPT_TYPE.linuxData, sizes.state, "none"),
      part("EPHEMERAL", GPT_TYPE.linuxData, 0, "none"),
    );
  }
  if (input.imageCacheSize) parts.push(part("IMAGECACHE", GPT_TYPE.linuxData, input.imageCacheSize, "ext4"));
  return parts;
}

/** IMAGECACHE size for a cache whose files total `fileBytes`: +20 % (integer math), rounded up to 1 MiB. */
export function imageCachePartitionSize(fileBytes: number): number {
  const withOverhead = fileBytes + Math.floor((fileBytes * 20) / 100);
  return Math.ceil(withOverhead / MIB) * MIB;
}

/**
 * Assembles a Talos disk image without root: plan the GPT, write it into a sparse file, build each
 * partition's filesystem as a regular file and copy it in at its offset (skipping zero blocks), then
 * let hooks write raw data (GRUB's BIOS boot code, META). Mirrors upstream `Install(ModeImage)`.
 */
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import { Quirks } from "../../profile/quirks.js";
import { DISK_IMAGE_LABEL, type PartitionLabel, type PartitionPlan } from "../../formats/disk-layout.js";
import { makeExt4Image } from "../filesystems/ext4.js";
import { makeFatImage } from "../filesystems/fat.js";
import { planGpt, type GptPartition, type GptTable, type SectorSize } from "../../formats/gpt.js";
import { writeGpt } from "./gpt-file.js";
import { guidFromLabel } from "../../formats/guid.js";
import { copyIntoSparse } from "../filesystems/sparse-file.js";
import { makeXfsImage } from "../filesystems/xfs.js";

/** What goes into one partition: a directory tree for its filesystem, or a ready image file of its exact size. */
export type PartitionContent = { sourceDir: string } | { imageFile: string };

/** Raw writes after the filesystems are in place (upstream order: GRUB blocklists, then META). */
export type DiskImageHook = (ctx: {
  file: FileHandle;
  table: GptTable;
  partition: (label: PartitionLabel) => GptPartition | undefined;
}) => Promise<void>;

/** Inputs of `buildDiskImage`. */
export interface DiskImageOptions {
  /** Output raw image (created sparse). */
  path: string;
  diskSize: number;
  sectorSize?: SectorSize;
  /** Partitions from `diskLayout`. */
  layout: readonly PartitionPlan[];
  /** Talos version (selects the XFS feature set). */
  version: string;
  contents?: Partial<Record<PartitionLabel, PartitionContent>>;
  /** Overlay partition offset: sectors between the primary header and the entries. */
  skipLBAs?: number;
  /** SOURCE_DATE_EPOCH; reproducible filesystems need it. */
  epoch?: number;
  /** Scratch directory for partition images (default: the system temp dir). */
  scratchDir?: string;
  /** Runs after the filesystems: BIOS boot code embedding (imager.md §5.5), then META. */
  hooks?: DiskImageHook[];
  signal?: AbortSignal;
}

/** The written table and anything the host could not reproduce exactly (e.g. XFS features it lacks). */
export interface DiskImageResult {
  table: GptTable;
  warnings: string[];
}

/** Builds a raw disk image file; only written regions take disk space. */
export async function buildDiskImage(options: DiskImageOptions): Promise<DiskImageResult> {
  const sectorSize = options.sectorSize ?? 512;
  const table = planGpt(
    {
      diskSize: options.diskSize,
      sectorSize,
      diskGuid: guidFromLabel(DISK_IMAGE_LABEL),
      skipLBAs: options.skipLBAs ?? 0,
    },
    options.layout,
  );
  const warnings: string[] = [];
  const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), "bootforge-disk-"));
  const file = await open(options.path, "w+");
  try {
    await file.truncate(options.diskSize);
    await writeGpt(file, table);
    // upstream passes the sector size to mkfs only when one was asked for; 512 is every mkfs's default
    const fsSector = sectorSize === 512 ? undefined : sectorSize;
    const common = {
      ...(options.epoch === undefined ? {} : { epoch: options.epoch }),
      ...(options.signal ? { signal: options.signal } : {}),
    };
    for (const part of table.partitions) {
      const plan = options.layout.find((p) => p.name === part.name);
      const content = options.contents?.[part.name as PartitionLabel];
      if (!plan) continue;
      if (content && "imageFile" in content) {
        await copyIntoSparse(content.imageFile, file, part.offset, part.size);
        continue;
      }
      const sourceDir = content?.sourceDir;
      const img = join(scratch, `${part.name}.img`);
      const base = {
        path: img,
        size: part.size,
        label: part.name,
        ...(sourceDir ? { sourceDir } : {}),
        ...common,
      };
      switch (plan.filesystem) {
        case "vfat":
          await makeFatImage({ ...base, ...(fsSector ? { sectorSize: fsSector } : {}) });
          break;
        case "xfs": {
          const { droppedFeatures } = await makeXfsImage({
            ...base,
            configName: new Quirks(options.version).xfsConfigFile,
            ...(fsSector ? { sectorSize: fsSector } : {}),
          });
          if (droppedFeatures.length > 0) {
            warnings.push(`${part.name}: this host's mkfs.xfs cannot enable ${droppedFeatures.join(", ")}`);
          }
          break;
        }
        case "ext4":
          await makeExt4Image({ ...base, ...(fsSector ? { blockSize: fsSector } : {}) });
          break;
        case "zeroes":
        case "none":
          // a fresh sparse file already reads as zeroes
          if (sourceDir) throw invalidInput(`partition ${part.name} has no filesystem to put files in`);
          continue;
      }
      await copyIntoSparse(img, file, part.offset, part.size);
      await rm(img, { force: true });
    }
    const partition = (label: PartitionLabel) => table.partitions.find((p) => p.name === label);
    for (const hook of options.hooks ?? []) await hook({ file, table, partition });
    await file.sync();
  } finally {
    await file.close();
    await rm(scratch, { recursive: true, force: true });
  }
  return { table, warnings };
}

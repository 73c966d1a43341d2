/**
 * Small FAT images for ISOs, built from a list of files (no staging copies): the GRUB El Torito
 * `efi.img` (FAT12 floppy geometry, as grub-mkrescue makes it) and the sd-boot `efiboot.img`
 * (FAT32, upstream's `mkfs.vfat` flags). mtools runs under a frozen clock so the bytes repeat; each
 * image's programs run from one shell.
 */
import { frozenClockEnv } from "../tools/frozen-clock.js";
import { invalidInput } from "../../errors/index.js";
import { createSparseFile } from "../filesystems/sparse-file.js";
import { runSequence, type SequenceStep } from "../tools/sequence.js";
import { fatSerial } from "./volume.js";

/** A file in the image: path inside it (`EFI/BOOT/BOOTX64.EFI`) and where its bytes come from. */
export interface FatFile {
  path: string;
  source: string;
}

const MIB = 1024 * 1024;

/** Upstream `fatSectorsPerCluster`: doubles from 1 up to 8 while the image keeps ≥ 65525+2048 clusters. */
export function fatSectorsPerCluster(size: number): number {
  let spc = 1;
  while (spc < 8 && Math.floor(size / 512 / (spc * 2)) >= 65525 + 2048) spc *= 2;
  return spc;
}

/**
 * Upstream formats FAT32 even below FAT32's 65525-cluster minimum; mtools up to at least 4.0.33
 * (Debian 12) then takes the volume for FAT16 and cannot write to it, so such small images are
 * FAT16 here (equally valid as an EFI system partition).
 */
export function fatBits(size: number, spc: number): 16 | 32 {
  return Math.floor(size / 512 / spc) >= 65525 + 2048 ? 32 : 16;
}

/** Upstream's `efiboot.img` size: 10 MiB plus each payload rounded up to whole MiB. */
export function efiBootImageSize(payloadSizes: readonly number[]): number {
  return 10 * MIB + payloadSizes.reduce((a, s) => a + Math.ceil(s / MIB) * MIB, 0);
}

/** The mtools runs that create `files`' directories and copy them in, in order. */
function populateSteps(image: string, files: readonly FatFile[]): SequenceStep[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  // One mmd for every directory and one mcopy per run of files that keep their own name in the
  // same directory: the same mtools operations in the same order as one call each (so the same
  // bytes), with fewer programs to start.
  const steps: SequenceStep[] = [];
  const sorted = [...dirs].sort();
  if (sorted.length > 0) steps.push({ tool: "mmd", args: ["-i", image, ...sorted.map((d) => `::/${d}`)] });
  for (const group of copyGroups(files)) {
    const dest = group.length === 1 ? `::/${group[0]!.path}` : `::/${dirOf(group[0]!.path)}/`;
    steps.push({ tool: "mcopy", args: ["-Q", "-i", image, ...group.map((f) => f.source), dest] });
  }
  return steps;
}

/** What runs after an image's own steps, in the same shell (an ISO's xorriso). */
export interface AfterImage {
  steps: readonly SequenceStep[];
  timeoutMs: number;
  /** Called once the shell running the image's last steps and these has started. */
  onStart?: () => void;
}

/**
 * Runs the steps from one shell (one fork of Node instead of one per step), the FAT tools under a
 * frozen clock (set for them alone: the shell and the steps after do not load libfaketime).
 */
function runSteps(
  steps: readonly SequenceStep[],
  epoch: number,
  signal?: AbortSignal,
  after?: AfterImage,
  gate?: { before: number; ready: Promise<void> },
): Promise<void> {
  // MTOOLS_SKIP_CHECK: mtools refuses images whose geometry it cannot guess; mkfs.vfat ignores it.
  const env = { ...frozenClockEnv(epoch), MTOOLS_SKIP_CHECK: "1" };
  return runSequence([...steps.map((s) => ({ ...s, env: { ...env, ...s.env } })), ...(after?.steps ?? [])], {
    timeoutMs: 5 * 60 * 1000 + (after?.timeoutMs ?? 0),
    ...(signal ? { signal } : {}),
    ...(after?.onStart ? { onStart: after.onStart } : {}),
    ...(gate ? { gate } : {}),
  });
}

function dirOf(path: string): string {
  return path.slice(0, Math.max(0, path.lastIndexOf("/")));
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Consecutive files copied by one mcopy: same directory, each named as its source file. */
function copyGroups(files: readonly FatFile[]): FatFile[][] {
  const groups: FatFile[][] = [];
  for (const f of files) {
    const last = groups.at(-1);
    const keepsName = baseName(f.path) === baseName(f.source) && dirOf(f.path) !== "";
    const prev = last?.[last.length - 1];
    if (
      last !== undefined &&
      prev !== undefined &&
      keepsName &&
      baseName(prev.path) === baseName(prev.source) &&
      dirOf(prev.path) === dirOf(f.path)
    ) {
      last.push(f);
    } else {
      groups.push([f]);
    }
  }
  return groups;
}

/** The GRUB El Torito EFI image: a 2880 KiB FAT floppy holding the GRUB EFI binaries. */
export async function makeGrubEfiImage(
  image: string,
  files: readonly FatFile[],
  epoch: number,
  signal?: AbortSignal,
): Promise<void> {
  await createSparseFile(image, 2880 * 1024);
  await runSteps(
    [
      {
        tool: "mformat",
        args: ["-C", "-f", "2880", "-L", "16", "-N", fatSerial(epoch).padStart(8, "0"), "-i", image, "::"],
      },
      ...populateSteps(image, files),
    ],
    epoch,
    signal,
  );
}

/** A source file still being written: the image is built up to its copy, which waits for `ready`. */
export interface PendingSource {
  source: string;
  ready: Promise<void>;
}

/**
 * The sd-boot `efiboot.img` (a new file: `image` must not exist): FAT32 labelled EFI, files
 * copied in order, `readOnly` paths marked read-only. With `pending`, the steps before that
 * file's copy run at once and the rest, in the same shell, once it is ready: the same mtools runs
 * in the same order, so the same bytes. `after` runs in that shell too, once the image is complete.
 */
export async function makeEfiBootImage(
  image: string,
  size: number,
  files: readonly FatFile[],
  readOnly: readonly string[],
  epoch: number,
  signal?: AbortSignal,
  pending?: PendingSource,
  after?: AfterImage,
): Promise<void> {
  if (size % 1024 !== 0) throw invalidInput(`EFI boot image size ${size} is not a whole number of KiB`);
  // mkfs.vfat creates the (sparse) file itself (`-C`, size in KiB; it must not exist): the same
  // bytes as formatting a file made beforehand, without the file operations in front of the tool.
  const spc = fatSectorsPerCluster(size);
  const steps: SequenceStep[] = [
    {
      tool: "mkfs.vfat",
      args: [
        "-C",
        "-F",
        String(fatBits(size, spc)),
        "-n",
        "EFI",
        "--invariant",
        "-s",
        String(spc),
        image,
        String(size / 1024),
      ],
    },
    ...populateSteps(image, files),
    ...readOnly.map((p) => ({ tool: "mattrib" as const, args: ["-i", image, "+r", `::/${p}`] })),
  ];
  // The copy of the pending file (and what follows) waits in the shell until the file is ready.
  const cut = pending === undefined ? -1 : steps.findIndex((s) => s.args.includes(pending.source));
  await runSteps(
    steps,
    epoch,
    signal,
    after,
    pending === undefined ? undefined : { before: Math.max(0, cut), ready: pending.ready },
  );
}

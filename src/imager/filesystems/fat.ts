/**
 * FAT32 partition images as regular files: `mkfs.vfat --invariant` (fixed serial and timestamps),
 * then mtools copies the tree in a fixed order under a frozen clock, so the bytes are reproducible.
 */
import { run } from "../tools/run.js";
import { frozenClockEnv } from "../tools/frozen-clock.js";
import { readTree, type TreeEntry } from "./source-tree.js";
import { createSparseFile } from "./sparse-file.js";

/** How to build a FAT image. */
export interface FatImageOptions {
  /** Output file (created sparse, exactly `size` bytes). */
  path: string;
  size: number;
  /** Directory whose contents become the filesystem root; empty filesystem when omitted. */
  sourceDir?: string;
  /** Volume label (upstream: `EFI`). */
  label?: string;
  /** Logical sector size passed as `-S` (omit for mkfs.vfat's default of 512). */
  sectorSize?: number;
  /** SOURCE_DATE_EPOCH: freezes the clock mtools stamps directories and files with. */
  epoch?: number;
  signal?: AbortSignal;
}

/** Builds a FAT32 filesystem image populated from `sourceDir`. */
export async function makeFatImage(options: FatImageOptions): Promise<void> {
  const { path, size, signal } = options;
  await createSparseFile(path, size);
  const env = options.epoch === undefined ? undefined : frozenClockEnv(options.epoch);
  const args = ["-F", "32", "-n", options.label ?? "EFI", "--invariant"];
  if (options.sectorSize !== undefined) args.push("-S", String(options.sectorSize));
  await run("mkfs.vfat", [...args, path], { ...(env ? { env } : {}), ...(signal ? { signal } : {}) });
  if (options.sourceDir === undefined) return;

  // mtools refuses images whose geometry it cannot guess unless told not to check.
  const mtoolsEnv = { ...env, MTOOLS_SKIP_CHECK: "1" };
  const copyLevel = async (entries: readonly TreeEntry[], dest: string): Promise<void> => {
    const files = entries.filter((e) => e.kind !== "dir");
    if (files.length > 0) {
      // -p keeps attributes, -m keeps mtimes, -Q stops at the first error; one call per directory
      // keeps entries in our order instead of the host's readdir order.
      await run("mcopy", ["-p", "-Q", "-m", "-i", path, ...files.map((f) => f.source), `${dest}/`], {
        env: mtoolsEnv,
        ...(signal ? { signal } : {}),
      });
    }
    for (const d of entries.filter((e) => e.kind === "dir")) {
      const target = `${dest}/${d.name}`;
      await run("mmd", ["-i", path, target], { env: mtoolsEnv, ...(signal ? { signal } : {}) });
      await copyLevel(d.children ?? [], target);
    }
  };
  await copyLevel(await readTree(options.sourceDir), "::");
}

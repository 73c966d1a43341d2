/**
 * ext4 partition images (IMAGECACHE) as regular files. Upstream feeds `mkfs.ext4 -d -` a sorted tar;
 * Debian 12's e2fsprogs (1.47.0) cannot read tar and copies host ctimes and readdir order with
 * `-d <dir>`, so Bootforge makes an empty filesystem with the label-derived UUID and hash seed,
 * then populates it with `debugfs -w` in a fixed order, owners 0:0, under a frozen clock.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { invalidInput, ioError } from "../../errors/index.js";
import { frozenClockEnv } from "../tools/frozen-clock.js";
import { run } from "../tools/run.js";
import { guidFromLabel } from "../../formats/guid.js";
import { readTree, walkTree } from "./source-tree.js";
import { createSparseFile } from "./sparse-file.js";

/** How to build an ext4 image. */
export interface Ext4ImageOptions {
  path: string;
  size: number;
  sourceDir?: string;
  /** Filesystem label (upstream: `IMAGECACHE`); UUID and hash seed are derived from it. */
  label?: string;
  /** Block size `-b` (upstream passes the image sector size; ext4 needs ≥ 1024, so 512 is left out). */
  blockSize?: number;
  epoch?: number;
  signal?: AbortSignal;
}

const quote = (s: string) => {
  if (/["\n\\]/.test(s)) throw invalidInput(`unsupported character in file name: ${JSON.stringify(s)}`);
  return `"${s}"`;
};

/** Builds an ext4 image populated from `sourceDir`. */
export async function makeExt4Image(options: Ext4ImageOptions): Promise<void> {
  const label = options.label ?? "IMAGECACHE";
  const guid = guidFromLabel(label);
  const env = options.epoch === undefined ? undefined : frozenClockEnv(options.epoch);
  const common = { ...(env ? { env } : {}), ...(options.signal ? { signal: options.signal } : {}) };
  await createSparseFile(options.path, options.size);
  const args = ["-q", "-F", "-L", label];
  if (options.blockSize !== undefined && options.blockSize >= 1024)
    args.push("-b", String(options.blockSize));
  args.push("-U", guid, "-E", `hash_seed=${guid}`, options.path);
  await run("mkfs.ext4", args, common);
  if (options.sourceDir === undefined) return;

  const cmds: string[] = ["sif / uid 0", "sif / gid 0"];
  for (const e of walkTree(await readTree(options.sourceDir))) {
    const p = quote(`/${e.path}`);
    if (e.kind === "dir") {
      cmds.push(`mkdir ${p}`, `sif ${p} mode 0${(0o40000 | e.mode).toString(8)}`);
    } else if (e.kind === "file") {
      cmds.push(`write ${quote(e.source)} ${p}`, `sif ${p} mode 0${(0o100000 | e.mode).toString(8)}`);
    } else {
      cmds.push(`symlink ${p} ${quote(e.target!)}`);
    }
    cmds.push(`sif ${p} uid 0`, `sif ${p} gid 0`);
  }
  const scratch = await mkdtemp(join(tmpdir(), "bootforge-ext4-"));
  try {
    const cmdFile = join(scratch, "debugfs.cmds");
    await writeFile(cmdFile, `${cmds.join("\n")}\n`);
    const { stderr } = await run("debugfs", ["-w", "-f", cmdFile, options.path], common);
    // debugfs exits 0 even when a command fails; its complaints are the only signal
    const problems = stderr
      .split("\n")
      .filter((l) => l.trim() && !/^debugfs \d/.test(l) && !/^Allocated inode:/.test(l));
    if (problems.length > 0)
      throw ioError(`debugfs could not populate ${options.path}: ${problems.slice(0, 10).join("; ")}`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

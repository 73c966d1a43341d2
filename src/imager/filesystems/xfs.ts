/**
 * XFS partition images (BOOT) as regular files: `mkfs.xfs -p <protofile>` with the per-version
 * feature set upstream selects (`lts_*.conf`), a label-derived UUID and a frozen clock.
 *
 * The host's xfsprogs may be older than upstream's: Bootforge writes the config file itself from
 * the feature table below, leaving out options the host mkfs.xfs does not know (and reporting
 * the enabled features that were lost), and passes the protofile as a plain path (`-p file=` needs
 * xfsprogs ≥ 6.5). Debian 12's own `lts_6.1.conf` is unusable with its mkfs.xfs 6.1.0.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import { frozenClockEnv } from "../tools/frozen-clock.js";
import { run } from "../tools/run.js";
import { parseToolVersion, toolVersion } from "../tools/version.js";
import { guidFromLabel } from "../../formats/guid.js";
import { readTree, type TreeEntry } from "./source-tree.js";
import { createSparseFile } from "./sparse-file.js";

type Section = "metadata" | "inode" | "naming";
type FeatureSet = Partial<Record<Section, Record<string, 0 | 1>>>;

/** Features of upstream xfsprogs' `mkfs/lts_*.conf` files, by file name (facts, kept as data). */
export const XFS_FEATURE_SETS: Record<string, FeatureSet> = {
  "lts_6.1.conf": {
    metadata: { bigtime: 1, crc: 1, finobt: 1, inobtcount: 1, reflink: 1, rmapbt: 0 },
    inode: { sparse: 1, nrext64: 0, exchange: 0 },
  },
  "lts_6.6.conf": {
    metadata: { bigtime: 1, crc: 1, finobt: 1, inobtcount: 1, metadir: 0, reflink: 1, rmapbt: 1 },
    inode: { sparse: 1, nrext64: 1, exchange: 0 },
    naming: { parent: 0 },
  },
  "lts_6.12.conf": {
    metadata: {
      bigtime: 1,
      crc: 1,
      finobt: 1,
      inobtcount: 1,
      metadir: 0,
      reflink: 1,
      rmapbt: 1,
      autofsck: 0,
    },
    inode: { sparse: 1, nrext64: 1, exchange: 0 },
    naming: { parent: 0 },
  },
  "lts_6.18.conf": {
    metadata: { bigtime: 1, crc: 1, finobt: 1, inobtcount: 1, metadir: 0, reflink: 1, rmapbt: 1 },
    inode: { sparse: 1, nrext64: 1, exchange: 1 },
    naming: { parent: 1 },
  },
};

// First xfsprogs release whose mkfs.xfs accepts each option in a config file.
const SINCE: Record<string, [number, number]> = {
  bigtime: [5, 10],
  inobtcount: [5, 10],
  nrext64: [5, 19],
  exchange: [6, 10],
  metadir: [6, 13],
  autofsck: [6, 13],
  parent: [6, 13],
};

/** A config file for the host's mkfs.xfs and the enabled features it could not carry. */
export function xfsConfigText(
  name: string,
  host: [number, number, number],
): { text: string; dropped: string[] } {
  const set = XFS_FEATURE_SETS[name];
  if (!set) throw invalidInput(`unknown mkfs.xfs config ${name}`);
  const dropped: string[] = [];
  const lines = [`# Bootforge: features of xfsprogs ${name} that this mkfs.xfs supports`];
  for (const section of ["metadata", "inode", "naming"] as const) {
    const opts = set[section];
    if (!opts) continue;
    const kept = Object.entries(opts).filter(([k, v]) => {
      const since = SINCE[k];
      const ok = !since || host[0] > since[0] || (host[0] === since[0] && host[1] >= since[1]);
      if (!ok && v === 1) dropped.push(`${k}=1`);
      return ok;
    });
    if (kept.length === 0) continue;
    lines.push("", `[${section}]`, ...kept.map(([k, v]) => `${k}=${v}`));
  }
  return { text: `${lines.join("\n")}\n`, dropped };
}

const protoMode = (e: { kind: string; mode: number }) => {
  const type = e.kind === "dir" ? "d" : e.kind === "symlink" ? "l" : "-";
  const suid = e.mode & 0o4000 ? "u" : "-";
  const sgid = e.mode & 0o2000 ? "g" : "-";
  return `${type}${suid}${sgid}${(e.mode & 0o777).toString(8).padStart(3, "0")} 0 0`;
};

/** An mkfs.xfs protofile for a tree: owners 0:0, files before directories, `$` closing each level. */
export function xfsProtofile(entries: readonly TreeEntry[], rootMode = 0o755): string {
  const out = ["/", "0 0", protoMode({ kind: "dir", mode: rootMode })];
  const level = (list: readonly TreeEntry[]) => {
    for (const e of list) {
      // the protofile is whitespace-separated: names or paths with blanks cannot be expressed
      if (/\s/.test(e.name)) throw invalidInput(`spaces not allowed in file names: ${e.path}`);
      const indent = " ".repeat(e.depth);
      if (e.kind === "dir") {
        out.push(`${indent}${e.name} ${protoMode(e)}`);
        level(e.children ?? []);
        out.push(`${indent}$`);
      } else {
        const extra = e.kind === "symlink" ? e.target! : e.source;
        if (/\s/.test(extra)) throw invalidInput(`spaces not allowed in paths: ${extra}`);
        out.push(`${indent}${e.name} ${protoMode(e)} ${extra}`);
      }
    }
  };
  level(entries);
  out.push("$");
  return `${out.join("\n")}\n`;
}

/** How to build an XFS image. */
export interface XfsImageOptions {
  path: string;
  size: number;
  sourceDir?: string;
  /** Filesystem label (upstream: `BOOT`); the UUID is derived from it. */
  label?: string;
  /** `-s size=` (omit for the 512-byte default). */
  sectorSize?: number;
  /** Upstream config name from `Quirks.xfsConfigFile`, e.g. `lts_6.12.conf`. */
  configName?: string;
  epoch?: number;
  signal?: AbortSignal;
}

/** Builds an XFS image; returns the enabled features the host's mkfs.xfs could not provide. */
export async function makeXfsImage(options: XfsImageOptions): Promise<{ droppedFeatures: string[] }> {
  const label = options.label ?? "BOOT";
  const scratch = await mkdtemp(join(tmpdir(), "bootforge-xfs-"));
  try {
    await createSparseFile(options.path, options.size);
    const args = ["-n", "ftype=1"];
    let dropped: string[] = [];
    if (options.configName) {
      const host = parseToolVersion(await toolVersion("mkfs.xfs"));
      const cfg = xfsConfigText(options.configName, host);
      dropped = cfg.dropped;
      const cfgPath = join(scratch, options.configName);
      await writeFile(cfgPath, cfg.text);
      args.push("-c", `options=${cfgPath}`);
    }
    args.push("-f", "-L", label);
    if (options.sectorSize !== undefined) args.push("-s", `size=${options.sectorSize}`);
    if (options.sourceDir !== undefined) {
      const proto = join(scratch, "protofile");
      await writeFile(proto, xfsProtofile(await readTree(options.sourceDir)));
      args.push("-p", proto);
    }
    args.push("-m", `uuid=${guidFromLabel(label)}`, options.path);
    await run("mkfs.xfs", args, {
      ...(options.epoch === undefined ? {} : { env: frozenClockEnv(options.epoch) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { droppedFeatures: dropped };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Extension layers as squashfs images: `mksquashfs` with upstream's flags per version, plus fixed
 * timestamps so the image depends only on its inputs.
 */
import { writeFile } from "node:fs/promises";
import type { Quirks } from "../../profile/quirks.js";
import { run } from "../tools/run.js";

/** SELinux labels for paths of one rootfs, keyed by path relative to it (`/` or `` for the root). */
export type XattrLabels = Readonly<Record<string, string>>;

export interface SquashfsOptions {
  /** Directory that becomes the squashfs root. */
  source: string;
  output: string;
  quirks: Quirks;
  /** SOURCE_DATE_EPOCH: the mkfs time and every inode time. */
  epoch: number;
  /** Paths relative to `source` left out (upstream moves them out of the tree first). */
  exclude?: readonly string[];
  /** File holding the exclude list (required when `exclude` is non-empty). */
  excludeListPath?: string;
  labels?: XattrLabels;
  /** At a lower CPU priority: a layer the build's critical path does not wait for yet. */
  background?: boolean;
  /** Called with a warning when labels cannot be stored by this mksquashfs. */
  warn?: (message: string) => void;
  signal?: AbortSignal;
}

let pseudoXattrSupport: Promise<boolean> | undefined;

/** Whether mksquashfs knows `-xattrs-exclude` and `x` pseudo definitions (squashfs-tools ≥ 4.6). */
export function mksquashfsSupportsXattrPseudo(): Promise<boolean> {
  pseudoXattrSupport ??= run("mksquashfs", ["-help"], { timeoutMs: 30_000 })
    .then((r) => r.stdout.toString("utf8").includes("-xattrs-exclude"))
    // older versions exit non-zero on -help; their text still says what they know
    .catch((e: unknown) => String((e as Error).message).includes("-xattrs-exclude"));
  return pseudoXattrSupport;
}

/** Upstream's compression flags: zstd level 18 on ≥ 1.8, xz with a full dictionary before. */
export function compressionArgs(quirks: Quirks): string[] {
  return quirks.useZSTDCompression
    ? ["-comp", "zstd", "-Xcompression-level", "18"]
    : ["-comp", "xz", "-Xdict-size", "100%"];
}

/** Builds one squashfs layer the way `Extension.Compress` does. */
export async function makeSquashfs(options: SquashfsOptions): Promise<void> {
  const args = [options.source, options.output, "-all-root", "-noappend", "-no-progress"];
  args.push(...compressionArgs(options.quirks));
  // Sorted, where upstream iterates a Go map: same flags, stable order.
  const labels = Object.entries(options.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (await mksquashfsSupportsXattrPseudo()) {
    args.push("-xattrs-exclude", ".*");
    for (const [path, label] of labels) {
      const rel = path === "" || path === "/" ? "/" : path.replace(/^\/+/, "");
      args.push("-p", `${rel} x security.selinux=${label}`);
    }
  } else {
    // Host xattrs never belong in a layer (upstream excludes them all); labels need squashfs-tools 4.6.
    args.push("-no-xattrs");
    if (labels.length > 0) {
      options.warn?.(
        `mksquashfs ${options.output}: this squashfs-tools cannot set xattrs from pseudo definitions (needs 4.6); ${labels.length} SELinux label(s) not stored`,
      );
    }
  }
  args.push("-mkfs-time", String(options.epoch), "-all-time", String(options.epoch));
  if (options.exclude !== undefined && options.exclude.length > 0) {
    if (options.excludeListPath === undefined)
      throw new TypeError("makeSquashfs: exclude needs excludeListPath");
    await writeFile(options.excludeListPath, `${options.exclude.join("\n")}\n`);
    args.push("-ef", options.excludeListPath);
  }
  await run("mksquashfs", args, {
    // mksquashfs refuses -all-time/-mkfs-time while SOURCE_DATE_EPOCH is set
    unsetEnv: ["SOURCE_DATE_EPOCH"],
    timeoutMs: 20 * 60 * 1000,
    ...(options.background ? { background: true } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

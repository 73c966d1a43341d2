/**
 * Output compression as the imager post-processes disk images (`pkg/imager/post.go`), streamed
 * file to file and reproducible: `.xz` and `.zst` through the real tools, `.gz` through node:zlib
 * (pigz's `--no-time` header: mtime 0), `.tar.gz` as a sparse GNU tar holding `disk.raw` (GCP).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip, constants as zlibConstants } from "node:zlib";
import { invalidInput } from "../../errors/index.js";
import { run } from "../tools/run.js";

/** Compressed output kinds (the profile's `outFormat`, minus raw). */
export type Compression = ".xz" | ".gz" | ".zst" | ".tar.gz";

/** Options shared by the compressors. */
export interface CompressOptions {
  /** SOURCE_DATE_EPOCH for tar headers (`.tar.gz`); 0 when omitted. */
  epoch?: number;
  signal?: AbortSignal;
}

// xz's multi-threaded encoder cuts fixed-size blocks, so its output does not depend on the thread
// count; its single-threaded encoder writes one block. `-T+1` keeps the block format on one core.
const xzThreads = () => (availableParallelism() > 1 ? "-T0" : "-T+1");

/** Compresses `input` into `output` (input is kept; callers remove it as upstream's `--rm` does). */
export async function compressFile(
  input: string,
  output: string,
  kind: Compression,
  options: CompressOptions = {},
): Promise<void> {
  const signal = options.signal ? { signal: options.signal } : {};
  switch (kind) {
    case ".xz":
      // upstream: xz -0 -f -T 0 (default CRC64 check)
      await fromFile("xz", ["-0", xzThreads(), "-c"], input, output, signal);
      return;
    case ".zst":
      // upstream: zstd -T0 --rm -18 --quiet --force; zstd's threaded output is thread-count independent.
      // Given the file (as upstream does), zstd also records the content size in the frame header.
      await fromFile("zstd", ["-T0", "-18", "--quiet", "-c"], input, output, signal);
      return;
    case ".gz":
      await pipeline(createReadStream(input), gzip(), createWriteStream(output), signal);
      return;
    case ".tar.gz":
      await tarGz(input, output, options);
      return;
    default:
      throw invalidInput(`unknown compression ${JSON.stringify(kind)}`);
  }
}

/**
 * Runs `tool args… input` with stdout into `output`. The tool reads the file itself: piping a
 * multi-GiB, mostly sparse disk through this process roughly doubled the compression time.
 */
async function fromFile(
  tool: "xz" | "zstd",
  args: readonly string[],
  input: string,
  output: string,
  signal: { signal?: AbortSignal },
): Promise<void> {
  // "--" so an input path starting with "-" is not read as an option
  await run(tool, [...args, "--", input], { stdoutFile: output, ...signal });
}

// pigz -6 --no-time: level 6, header mtime 0; node:zlib writes OS 3 (Unix) like pigz on Linux.
const gzip = () => createGzip({ level: 6, strategy: zlibConstants.Z_DEFAULT_STRATEGY });

/**
 * GCP's `disk.raw` inside a gzip'd tar: GNU tar with `--sparse` (holes are not stored), sorted,
 * owner 0:0 numeric, mtime SOURCE_DATE_EPOCH, mode 0644 (fixed so the host umask does not matter).
 */
async function tarGz(input: string, output: string, options: CompressOptions): Promise<void> {
  // the member must be called disk.raw: a hard link next to the output names it without copying
  const scratch = await mkdtemp(join(dirname(output), ".bootforge-tar-"));
  try {
    await link(input, join(scratch, "disk.raw"));
    const args = [
      "-cf",
      "-",
      "-C",
      scratch,
      "--sparse",
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "--mode=0644",
      `--mtime=@${options.epoch ?? 0}`,
      "disk.raw",
    ];
    const gz = gzip();
    const written = pipeline(gz, createWriteStream(output));
    await run("tar", args, { stdout: gz, ...(options.signal ? { signal: options.signal } : {}) });
    await written;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Output compression as the imager post-processes disk images (`pkg/imager/post.go`), streamed
 * file to file and reproducible: `.xz` and `.zst` through the real tools, `.gz` through node:zlib
 * (pigz's `--no-time` header: mtime 0), `.tar.gz` as a sparse GNU tar holding `disk.raw` (GCP).
 * `.xz`, `.zst` and `.gz` are sparse-aware (`sparse-compress.ts`): zero chunks of the image are
 * not compressed again, so the output is a series of xz streams, zstd frames or gzip members —
 * other bytes than upstream's whole-file command, decompressing to the same image.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip, gzip as gzipBuffer, constants as zlibConstants } from "node:zlib";
import { invalidInput } from "../../errors/index.js";
import { run } from "../tools/run.js";
import { compressSparse, type ConcatCodec, type SparseCompressOptions } from "./sparse-compress.js";

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
  const sparse: SparseCompressOptions = options.signal ? { signal: options.signal } : {};
  switch (kind) {
    case ".xz":
      await compressSparse(input, output, codecs().xz, sparse);
      return;
    case ".zst":
      await compressSparse(input, output, codecs().zst, sparse);
      return;
    case ".gz":
      await compressSparse(input, output, codecs().gz, sparse);
      return;
    case ".tar.gz":
      await tarGz(input, output, options);
      return;
    default:
      throw invalidInput(`unknown compression ${JSON.stringify(kind)}`);
  }
}

let made: Record<"xz" | "zst" | "gz", ConcatCodec> | undefined;

/** The codecs of `.xz`, `.zst` and `.gz`, with upstream's settings (exported for tests and benchmarks). */
export function codecs(): Record<"xz" | "zst" | "gz", ConcatCodec> {
  return (made ??= {
    // upstream: xz -0 -f -T 0 (default CRC64 check); streams concatenate (xz file format §2.2)
    xz: toolCodec("xz", () => ["-0", xzThreads(), "-c"]),
    // upstream: zstd -T0 --rm -18 --quiet --force; zstd's threaded output is thread-count
    // independent. Given a file, zstd records the content size in the frame header; a piece read
    // from stdin gets the same header (and the same bytes) with --stream-size. Frames concatenate.
    zst: toolCodec("zstd", (size) => [
      "-T0",
      "-18",
      "--quiet",
      ...(size === undefined ? [] : [`--stream-size=${size}`]),
      "-c",
    ]),
    // gzip members concatenate (RFC 1952 §2.2)
    gz: {
      id: "gzip -6 (node:zlib)",
      stream: (input, _size, output, signal) =>
        pipeline(input, gzip(), createWriteStream(output), signal ? { signal } : {}),
      buffer: (data) =>
        new Promise<Buffer>((resolve, reject) =>
          gzipBuffer(data, GZIP_OPTIONS, (e, r) => (e ? reject(e) : resolve(r))),
        ),
      file: (input, output, signal) =>
        pipeline(createReadStream(input), gzip(), createWriteStream(output), signal ? { signal } : {}),
    },
  });
}

/**
 * A codec running `tool args(size)…`: `size` is the input's length when it comes on stdin, and
 * undefined when the tool reads a file. stdout goes straight to the output file.
 */
function toolCodec(tool: "xz" | "zstd", args: (size?: number) => string[]): ConcatCodec {
  const sig = (signal?: AbortSignal) => (signal ? { signal } : {});
  return {
    id: [tool, ...args()].join(" "),
    async stream(input: Readable, size: number, output: string, signal?: AbortSignal) {
      await run(tool, args(size), { stdin: input, stdoutFile: output, ...sig(signal) });
    },
    async buffer(data: Buffer, signal?: AbortSignal) {
      return (await run(tool, args(data.length), { stdin: data, ...sig(signal) })).stdout;
    },
    // The tool reads the file itself: piping a multi-GiB file through this process costs time.
    // "--" so an input path starting with "-" is not read as an option.
    async file(input: string, output: string, signal?: AbortSignal) {
      await run(tool, [...args(), "--", input], { stdoutFile: output, ...sig(signal) });
    },
  };
}

// pigz -6 --no-time: level 6, header mtime 0; node:zlib writes OS 3 (Unix) like pigz on Linux.
const GZIP_OPTIONS = { level: 6, strategy: zlibConstants.Z_DEFAULT_STRATEGY };
const gzip = () => createGzip(GZIP_OPTIONS);

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

/**
 * Sparse-aware compression: the work grows with a disk image's data, not with its size. The
 * input is cut into fixed chunks (4 MiB); a chunk holding only zero bytes is written as one
 * precomputed compressed all-zero chunk (made once per codec and chunk size with the same tool
 * and settings, kept in memory: a few hundred bytes to a few KiB), and each run of consecutive
 * chunks holding data is compressed by one tool run. The output is the concatenation of those
 * pieces — xz streams, zstd frames or gzip members, which each format's specification allows
 * and every decoder reads as one stream of the whole file.
 *
 * Which chunks hold data is decided by their content (a chunk is "zero" when every byte is 0),
 * never by how the file happens to be allocated, so the output depends only on the input's bytes.
 * SEEK_DATA/SEEK_HOLE (`data-extents.ts`) only saves reading holes; without it the whole file is
 * read and checked, with the same result.
 */
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, type FileHandle } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { ioError } from "../../errors/index.js";
import { limiter } from "../tools/limiter.js";
import { dataExtents, wholeFile, type Extent } from "./data-extents.js";

/**
 * Chunk size: a multiple of the 1 MiB partition alignment, of xz -0's 1 MiB blocks and of zstd's
 * 128 KiB blocks. An isolated filesystem metadata block drags at most 4 MiB of zeros into a tool
 * run (tens of milliseconds), while a 4 GiB disk has ~1000 zero chunks (xz ~1 KiB each, zstd 149
 * bytes, gzip 4 KiB: about what the whole-file tools spend on zeros anyway).
 */
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** A compressor whose outputs may be concatenated into one valid compressed file. */
export interface ConcatCodec {
  /** Tool and settings: identifies the compressed zero chunks it makes (the cache key). */
  readonly id: string;
  /** Compresses exactly `size` bytes from `input` into the file `output`. */
  stream(input: Readable, size: number, output: string, signal?: AbortSignal): Promise<void>;
  /** Compresses `data` in memory (the all-zero chunk). */
  buffer(data: Buffer, signal?: AbortSignal): Promise<Buffer>;
  /** Compresses the whole file `input` into `output` (the tool reads the file itself). */
  file(input: string, output: string, signal?: AbortSignal): Promise<void>;
}

/** Options of {@link compressSparse}. */
export interface SparseCompressOptions {
  signal?: AbortSignal;
  /** Chunk size in bytes (default {@link CHUNK_SIZE}); the output depends on it. */
  chunkSize?: number;
  /** Ignore SEEK_DATA and read the whole file to find zero chunks (tests: same bytes). */
  scanOnly?: boolean;
  /** Data runs compressed at the same time (default: the available parallelism). */
  concurrency?: number;
}

/** One run of chunks of the same kind: `count` chunks from chunk `first`. */
export interface ChunkRun {
  data: boolean;
  first: number;
  count: number;
}

const READ_BLOCK = 1024 * 1024;
const ZERO = Buffer.alloc(READ_BLOCK);
/** Zero chunks are written in batches of up to this many bytes. */
const WRITE_BATCH = 1024 * 1024;

/**
 * Compresses `input` into `output` chunk-wise with `codec` (see the module comment). A file with
 * no zero chunk (or an empty one) is given to the tool whole, as the whole-file command would be.
 * On failure or abort, `output` is removed.
 */
export async function compressSparse(
  input: string,
  output: string,
  codec: ConcatCodec,
  options: SparseCompressOptions = {},
): Promise<void> {
  const chunk = options.chunkSize ?? CHUNK_SIZE;
  if (!Number.isSafeInteger(chunk) || chunk <= 0) throw ioError(`invalid chunk size ${chunk}`);
  // Our own controller: a failed piece stops the tools still running for the others.
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const signal = stop.signal;
  const pieces: Promise<unknown>[] = [];
  let scratch: string | undefined;
  let out: FileHandle | undefined;
  try {
    signal.throwIfAborted();
    const src = await open(input, "r");
    let runs: ChunkRun[];
    let size: number;
    try {
      size = (await src.stat()).size;
      const extents = options.scanOnly ? undefined : await dataExtents(input, size, { signal });
      runs = chunkRuns(await dataChunks(src, size, chunk, extents ?? wholeFile(size), signal));
    } finally {
      await src.close();
    }
    if (runs.length === 0 || (runs.length === 1 && runs[0]!.data)) {
      await codec.file(input, output, signal);
      return;
    }

    scratch = await mkdtemp(join(dirname(output), ".bootforge-chunks-"));
    const dir = scratch;
    const tail = size % chunk;
    const lastChunk = Math.ceil(size / chunk) - 1;
    // Made while the data runs compress (a no-op when cached).
    const zero = zeroChunk(codec, chunk);
    zero.catch(() => undefined);
    // Data runs start right away, at most `concurrency` at a time, longest first (the longest
    // decides when all are done); the writer takes them in file order.
    const limit = Math.max(1, options.concurrency ?? availableParallelism());
    const slots = limiter(limit);
    const compressed = new Map<ChunkRun, Promise<string>>();
    const longestFirst = runs.filter((r) => r.data).sort((a, b) => b.count - a.count || a.first - b.first);
    for (const r of longestFirst) {
      const start = r.first * chunk;
      const end = Math.min((r.first + r.count) * chunk, size);
      const piece = join(dir, `${r.first}`);
      const p = slots(async () => {
        signal.throwIfAborted();
        const stream = createReadStream(input, { start, end: end - 1, highWaterMark: READ_BLOCK });
        await codec.stream(stream, end - start, piece, signal);
        return piece;
      });
      // a failure is seen by the writer; this only keeps it from being reported as unhandled
      p.catch(() => stop.abort());
      pieces.push(p);
      compressed.set(r, p);
    }

    out = await open(output, "w");
    let pos = 0;
    for (const r of runs) {
      signal.throwIfAborted();
      if (r.data) {
        const piece = await compressed.get(r)!;
        pos += await append(out, pos, piece);
        await rm(piece, { force: true });
        continue;
      }
      const partial = tail !== 0 && r.first + r.count - 1 === lastChunk;
      const full = partial ? r.count - 1 : r.count;
      if (full > 0) pos += await writeRepeated(out, pos, await zero, full);
      if (partial) pos += await writeRepeated(out, pos, await codec.buffer(Buffer.alloc(tail), signal), 1);
    }
    await out.close();
    out = undefined;
  } catch (e) {
    stop.abort();
    await out?.close().catch(() => undefined);
    await rm(output, { force: true });
    throw e;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    // Every tool run has ended before its files go.
    await Promise.allSettled(pieces);
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * Per chunk of a `size`-byte file, 1 when it holds a non-zero byte. Only the parts of chunks that
 * `extents` covers are read (the rest are holes, zeros); a chunk stops being read at its first
 * non-zero block.
 */
export async function dataChunks(
  src: FileHandle,
  size: number,
  chunk: number,
  extents: readonly Extent[],
  signal?: AbortSignal,
): Promise<Uint8Array> {
  const flags = new Uint8Array(Math.ceil(size / chunk));
  const buf = Buffer.allocUnsafe(READ_BLOCK);
  for (const e of extents) {
    const end = Math.min(e.offset + e.length, size);
    let pos = e.offset;
    while (pos < end) {
      const c = Math.floor(pos / chunk);
      const chunkEnd = Math.min((c + 1) * chunk, end);
      if (flags[c] === 1) {
        pos = chunkEnd;
        continue;
      }
      signal?.throwIfAborted();
      const length = Math.min(READ_BLOCK, chunkEnd - pos);
      await readFully(src, buf, length, pos);
      if (buf.subarray(0, length).equals(ZERO.subarray(0, length))) {
        pos += length;
      } else {
        flags[c] = 1;
        pos = chunkEnd;
      }
    }
  }
  return flags;
}

/** Runs of consecutive zero and data chunks, in file order. */
export function chunkRuns(flags: Uint8Array): ChunkRun[] {
  const runs: ChunkRun[] = [];
  flags.forEach((f, i) => {
    const last = runs.at(-1);
    if (last !== undefined && last.data === (f === 1)) last.count++;
    else runs.push({ data: f === 1, first: i, count: 1 });
  });
  return runs;
}

// Compressed all-zero chunks per codec and chunk size, made once per process.
const zeroChunks = new Map<string, Promise<Buffer>>();

/**
 * The compressed form of a chunk of `size` zero bytes, made once per codec and size (a failed
 * attempt is forgotten). Not tied to one caller's AbortSignal: concurrent compressions share it,
 * and it takes a fraction of a second.
 */
export function zeroChunk(codec: ConcatCodec, size: number): Promise<Buffer> {
  const key = `${codec.id}\0${size}`;
  let p = zeroChunks.get(key);
  if (p === undefined) {
    p = codec.buffer(Buffer.alloc(size));
    zeroChunks.set(key, p);
    p.catch(() => zeroChunks.delete(key));
  }
  return p;
}

async function readFully(f: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await f.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw ioError("unexpected end of file while reading a disk image");
    done += bytesRead;
  }
}

async function writeFully(f: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await f.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

/** Writes `times` copies of `piece` at `position`, batched; returns the bytes written. */
async function writeRepeated(f: FileHandle, position: number, piece: Buffer, times: number): Promise<number> {
  const perBatch = Math.max(1, Math.floor(WRITE_BATCH / piece.length));
  let written = 0;
  for (let left = times; left > 0;) {
    const n = Math.min(left, perBatch);
    const batch = n === 1 ? piece : Buffer.concat(Array<Buffer>(n).fill(piece));
    await writeFully(f, batch, position + written);
    written += batch.length;
    left -= n;
  }
  return written;
}

/** Appends the file `path` at `position` of `f`; returns its length. */
async function append(f: FileHandle, position: number, path: string): Promise<number> {
  const src = await open(path, "r");
  try {
    const buf = Buffer.allocUnsafe(READ_BLOCK);
    let copied = 0;
    for (;;) {
      const { bytesRead } = await src.read(buf, 0, buf.length, copied);
      if (bytesRead === 0) return copied;
      await writeFully(f, buf.subarray(0, bytesRead), position + copied);
      copied += bytesRead;
    }
  } finally {
    await src.close();
  }
}

/**
 * Sparse image files: created by truncate, filled by positional writes that skip all-zero blocks,
 * so unwritten space never takes disk space (a 4 GiB raw image costs what its data costs).
 */
import { open, type FileHandle } from "node:fs/promises";
import { ioError } from "../../errors/index.js";
import { dataExtents, wholeFile } from "../disk/data-extents.js";

const BLOCK = 1024 * 1024;

/** Creates (or truncates) `path` as a sparse file of exactly `size` bytes. */
export async function createSparseFile(path: string, size: number): Promise<void> {
  const f = await open(path, "w");
  try {
    await f.truncate(size);
  } finally {
    await f.close();
  }
}

const ZERO = Buffer.alloc(BLOCK);

// native memcmp against a zero block: scanning gigabytes of holes stays cheap
const isZero = (buf: Buffer, length: number) => buf.subarray(0, length).equals(ZERO.subarray(0, length));

/** Sources at least this large have their holes found first (SEEK_HOLE) instead of read. */
const FIND_HOLES_FROM = 16 * BLOCK;

/**
 * Copies the whole file `source` into `dest` at byte `offset`, skipping its holes (SEEK_HOLE:
 * a 2 GiB filesystem image with a few MiB of data is not read through) and all-zero blocks (the
 * destination region must already read as zeroes, as a fresh sparse file does). The source must be
 * exactly `expectedSize` bytes long, as upstream's PartitionWriter insists.
 */
export async function copyIntoSparse(
  source: string,
  dest: FileHandle,
  offset: number,
  expectedSize: number,
): Promise<void> {
  const src = await open(source, "r");
  try {
    const { size } = await src.stat();
    if (size !== expectedSize) {
      throw ioError(`partition image ${source} is ${size} bytes, the partition is ${expectedSize} bytes`);
    }
    const extents = size >= FIND_HOLES_FROM ? await dataExtents(source, size) : undefined;
    for (const e of extents ?? wholeFile(size))
      await copyRangeSparse(src, e.offset, e.length, dest, offset + e.offset);
  } finally {
    await src.close();
  }
}

/** Copies `length` bytes from `src` at `srcOffset` to `dest` at `destOffset`, leaving zero blocks unwritten. */
export async function copyRangeSparse(
  src: FileHandle,
  srcOffset: number,
  length: number,
  dest: FileHandle,
  destOffset: number,
): Promise<void> {
  const buf = Buffer.allocUnsafe(BLOCK);
  let pos = 0;
  while (pos < length) {
    const { bytesRead } = await src.read(buf, 0, Math.min(BLOCK, length - pos), srcOffset + pos);
    if (bytesRead === 0) throw ioError("unexpected end of file while copying an image region");
    if (!isZero(buf, bytesRead)) {
      let done = 0;
      while (done < bytesRead) {
        const { bytesWritten } = await dest.write(buf, done, bytesRead - done, destOffset + pos + done);
        done += bytesWritten;
      }
    }
    pos += bytesRead;
  }
}

/** Extracts one region of an image (e.g. a partition) into a new sparse file, for checkers that want a whole file. */
export async function extractRegion(
  image: string,
  offset: number,
  length: number,
  out: string,
): Promise<void> {
  await createSparseFile(out, length);
  const [src, dest] = [await open(image, "r"), await open(out, "r+")];
  try {
    await copyRangeSparse(src, offset, length, dest, 0);
  } finally {
    await src.close();
    await dest.close();
  }
}

/**
 * A section's content as either bytes in memory or a file on disk, so small generated
 * sections and multi-hundred-megabyte kernels/initramfs go through the same code paths.
 */
import { createReadStream } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { ioError, isBootforgeError } from "../../errors/index.js";
import { copyRangeSparse } from "../filesystems/sparse-file.js";

/** Bytes held in memory or a file streamed from disk. */
export type ByteSource = { readonly bytes: Uint8Array } | { readonly path: string };

/** A source from a string (UTF-8), bytes or a file path given as `{ path }`. */
export function bytesOf(data: string | Uint8Array): ByteSource {
  return { bytes: typeof data === "string" ? Buffer.from(data, "utf8") : data };
}

/** Size in bytes of a source. */
export async function sourceSize(src: ByteSource): Promise<number> {
  if ("bytes" in src) return src.bytes.length;
  try {
    const st = await stat(src.path);
    if (!st.isFile()) throw ioError(`${src.path} is not a regular file`);
    return st.size;
  } catch (e) {
    if (e instanceof Error && "kind" in e) throw e;
    throw ioError(`cannot read ${src.path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The source's content as a stream of chunks (files are never loaded whole). */
export async function* sourceChunks(src: ByteSource): AsyncGenerator<Uint8Array> {
  if ("bytes" in src) {
    yield src.bytes;
    return;
  }
  try {
    for await (const chunk of createReadStream(src.path, { highWaterMark: 1 << 20 })) {
      yield chunk as Buffer;
    }
  } catch (e) {
    throw ioError(`cannot read ${src.path}: ${(e as Error).message}`, { cause: e });
  }
}

/** The whole content in memory; only for small sections (osrel, cmdline, profiles, keys). */
export async function sourceBytes(src: ByteSource): Promise<Buffer> {
  if ("bytes" in src) return Buffer.from(src.bytes.buffer, src.bytes.byteOffset, src.bytes.length);
  const parts: Uint8Array[] = [];
  for await (const c of sourceChunks(src)) parts.push(c);
  return Buffer.concat(parts);
}

/**
 * Copies the source into `out` (a file being written from scratch: what is not written reads as
 * zeroes) at `position`; returns the number of bytes written. A source larger than `limit` is
 * `overflow()`. Files go through `copyRangeSparse`: one reused buffer, all-zero blocks left as
 * holes.
 */
export async function copySource(
  src: ByteSource,
  out: FileHandle,
  position: number,
  limit: number,
  overflow: () => Error,
): Promise<number> {
  if ("bytes" in src) {
    if (src.bytes.length > limit) throw overflow();
    await out.write(src.bytes, 0, src.bytes.length, position);
    return src.bytes.length;
  }
  const cannotRead = (e: unknown) =>
    ioError(`cannot read ${src.path}: ${(e as Error).message}`, { cause: e });
  const input = await open(src.path, "r").catch((e: unknown) => {
    throw cannotRead(e);
  });
  try {
    const { size } = await input.stat();
    if (size > limit) throw overflow();
    await copyRangeSparse(input, 0, size, out, position).catch((e: unknown) => {
      if (isBootforgeError(e)) throw e;
      // The copy also writes: a full disk is the output's problem, not the source's.
      if ((e as NodeJS.ErrnoException).syscall === "write")
        throw ioError(`cannot write ${src.path} into the output: ${(e as Error).message}`, { cause: e });
      throw cannotRead(e);
    });
    return size;
  } finally {
    await input.close();
  }
}

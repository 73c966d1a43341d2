/**
 * A section's content as either bytes in memory or a file on disk, so small generated
 * sections and multi-hundred-megabyte kernels/initramfs go through the same code paths.
 */
import { createReadStream } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import { ioError } from "../../../errors/index.js";

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

/** Bytes copied per read and write by `copySource`. */
const COPY_CHUNK = 1 << 20;

/**
 * Copies the source into `out` at `position`, failing once more than `limit` bytes come; returns
 * the number of bytes written. A file goes through one reused buffer: no allocation per chunk, so
 * a kernel copied into a UKI costs neither page faults on fresh memory nor garbage collection.
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
  let input: FileHandle;
  try {
    input = await open(src.path, "r");
  } catch (e) {
    throw ioError(`cannot read ${src.path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const buffer = Buffer.allocUnsafe(COPY_CHUNK);
    let done = 0;
    for (;;) {
      let n: number;
      try {
        ({ bytesRead: n } = await input.read(buffer, 0, COPY_CHUNK, done));
      } catch (e) {
        throw ioError(`cannot read ${src.path}: ${(e as Error).message}`, { cause: e });
      }
      if (n === 0) return done;
      if (done + n > limit) throw overflow();
      await out.write(buffer, 0, n, position + done);
      done += n;
    }
  } finally {
    await input.close();
  }
}

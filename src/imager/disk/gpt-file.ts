/**
 * GPT on disk-image files: the table encoded by `formats/gpt.ts`, written with positional writes
 * (the image stays sparse) and read back through an open file handle.
 */
import type { FileHandle } from "node:fs/promises";
import { open } from "node:fs/promises";
import { ioError } from "../../errors/index.js";
import { decodeGpt, encodeGpt, type GptTable, type SectorSize } from "../../formats/gpt.js";

/** Writes PMBR, primary and backup headers and entry arrays into an open image file. */
export async function writeGpt(file: FileHandle, table: GptTable): Promise<void> {
  for (const { data, position } of encodeGpt(table)) await writeAll(file, data, position);
}

async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw ioError("short write to disk image");
    done += bytesWritten;
  }
}

/** Creates (or truncates) a sparse file of `size` bytes and writes `table` into it. */
export async function createGptImage(path: string, size: number, table: GptTable): Promise<void> {
  const file = await open(path, "w");
  try {
    await file.truncate(size);
    await writeGpt(file, table);
  } finally {
    await file.close();
  }
}

/**
 * Reads and validates a GPT image file (both headers, both entry arrays, the protective MBR);
 * `invalid-input` errors say what is wrong.
 */
export async function readGpt(path: string, sectorSize: SectorSize = 512): Promise<GptTable> {
  const file = await open(path, "r");
  try {
    const { size } = await file.stat();
    const read = async (length: number, position: number): Promise<Buffer> => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await file.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    };
    return await decodeGpt({ size, read }, sectorSize);
  } finally {
    await file.close();
  }
}

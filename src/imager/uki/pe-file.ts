/** PE headers and section data read from files (parsed by `formats/pe/pe-reader.ts`). */
import { open } from "node:fs/promises";
import { invalidInput, ioError } from "../../errors/index.js";
import {
  parsePeHeaders,
  peHeaderAreaSize,
  type PeHeaders,
  type SectionHeader,
} from "../../formats/pe/pe-reader.js";

/** Reads and parses the headers of the PE file at `path`. */
export async function readPeHeaders(path: string): Promise<PeHeaders> {
  const fh = await openOrThrow(path);
  try {
    const first = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(first, 0, first.length, 0);
    let buf = first.subarray(0, bytesRead);
    // Headers larger than a page happen with many sections; read up to the section table end.
    const end = peHeaderAreaSize(buf);
    if (end !== undefined && end > buf.length && end < 1 << 24) {
      buf = Buffer.alloc(end);
      await fh.read(buf, 0, end, 0);
    }
    return parsePeHeaders(buf, path);
  } finally {
    await fh.close();
  }
}

/** A section's bytes, cut to VirtualSize as the UEFI loader and upstream's extractor see them. */
export async function readSectionData(path: string, section: SectionHeader): Promise<Buffer> {
  const len = Math.min(section.virtualSize, section.sizeOfRawData);
  const fh = await openOrThrow(path);
  try {
    const buf = Buffer.alloc(len);
    const { bytesRead } = await fh.read(buf, 0, len, section.pointerToRawData);
    if (bytesRead !== len) throw invalidInput(`${path}: section ${section.name} is truncated`);
    return buf;
  } finally {
    await fh.close();
  }
}

async function openOrThrow(path: string) {
  try {
    return await open(path, "r");
  } catch (e) {
    throw ioError(`cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
}

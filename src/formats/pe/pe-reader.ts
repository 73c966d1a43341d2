/**
 * PE/COFF header reader: just enough structure (with file offsets of the fields that
 * assembly and Authenticode patch or skip) to rebuild a UKI and to hash an image. Parses bytes
 * handed in; `imager/uki/pe-file.ts` reads them from files.
 */
import { invalidInput } from "../../errors/index.js";

/** Optional-header magic of PE32+ images (64-bit), the only kind a UKI stub may be. */
export const PE32PLUS_MAGIC = 0x20b;
/** Optional-header magic of PE32 images (32-bit); readable and signable, not assemblable. */
export const PE32_MAGIC = 0x10b;
/** Index of the certificate table (Authenticode signatures) among the data directories. */
export const CERTIFICATE_TABLE_INDEX = 4;
/** Section flag: the section holds initialized data. */
export const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x00000040;
/** Section flag: the section is readable. */
export const IMAGE_SCN_MEM_READ = 0x40000000;

/** COFF file header (20 bytes after `PE\0\0`). */
export interface FileHeader {
  machine: number;
  numberOfSections: number;
  timeDateStamp: number;
  pointerToSymbolTable: number;
  numberOfSymbols: number;
  sizeOfOptionalHeader: number;
  characteristics: number;
}

/** One section header, name without NUL padding. */
export interface SectionHeader {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  characteristics: number;
}

/** A data directory entry (RVA, or file offset for the certificate table). */
export interface DataDirectory {
  virtualAddress: number;
  size: number;
}

/** The parsed headers of a PE image, with absolute file offsets of the patchable fields. */
export interface PeHeaders {
  /** `e_lfanew`: file offset of the `PE\0\0` signature. */
  peOffset: number;
  fileHeader: FileHeader;
  /** File offset of the optional header. */
  optionalHeaderOffset: number;
  magic: number;
  /** Raw optional header bytes (`sizeOfOptionalHeader` long). */
  optionalHeader: Buffer;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfHeaders: number;
  imageBase: bigint;
  checkSum: number;
  /** File offset of the CheckSum field (skipped by the Authenticode hash). */
  checkSumOffset: number;
  /** File offset of the certificate-table data directory entry, or -1 if the image has none. */
  certificateTableEntryOffset: number;
  dataDirectories: DataDirectory[];
  sections: SectionHeader[];
}

const u16 = (b: Buffer, o: number) => b.readUInt16LE(o);
const u32 = (b: Buffer, o: number) => b.readUInt32LE(o);

/** Parses PE headers from a buffer holding at least the whole header area. */
export function parsePeHeaders(buf: Buffer, what = "PE image"): PeHeaders {
  const bad = (why: string) => invalidInput(`${what}: ${why}`);
  if (buf.length < 0x40 || buf.toString("latin1", 0, 2) !== "MZ") throw bad("not a PE file (no MZ header)");
  const peOffset = u32(buf, 0x3c);
  if (peOffset + 24 > buf.length || buf.toString("latin1", peOffset, peOffset + 4) !== "PE\0\0") {
    throw bad("not a PE file (no PE signature)");
  }
  const fh = peOffset + 4;
  const fileHeader: FileHeader = {
    machine: u16(buf, fh),
    numberOfSections: u16(buf, fh + 2),
    timeDateStamp: u32(buf, fh + 4),
    pointerToSymbolTable: u32(buf, fh + 8),
    numberOfSymbols: u32(buf, fh + 12),
    sizeOfOptionalHeader: u16(buf, fh + 16),
    characteristics: u16(buf, fh + 18),
  };
  const oh = fh + 20;
  const sectionTable = oh + fileHeader.sizeOfOptionalHeader;
  if (sectionTable + 40 * fileHeader.numberOfSections > buf.length) throw bad("truncated headers");
  const magic = u16(buf, oh);
  // PE32+ drops BaseOfData and widens ImageBase and the four stack/heap sizes to 64 bits.
  const wide = magic === PE32PLUS_MAGIC;
  if (!wide && magic !== PE32_MAGIC) throw bad(`unknown optional header magic 0x${magic.toString(16)}`);
  const ddStart = oh + (wide ? 112 : 96);
  const rvaCountOffset = ddStart - 4;
  const dirCount = Math.min(u32(buf, rvaCountOffset), Math.floor((sectionTable - ddStart) / 8));
  const dataDirectories: DataDirectory[] = [];
  for (let i = 0; i < dirCount; i++) {
    dataDirectories.push({ virtualAddress: u32(buf, ddStart + 8 * i), size: u32(buf, ddStart + 8 * i + 4) });
  }
  const sections: SectionHeader[] = [];
  for (let i = 0; i < fileHeader.numberOfSections; i++) {
    const s = sectionTable + 40 * i;
    const rawName = buf.subarray(s, s + 8);
    const nul = rawName.indexOf(0);
    sections.push({
      name: rawName.toString("latin1", 0, nul === -1 ? 8 : nul),
      virtualSize: u32(buf, s + 8),
      virtualAddress: u32(buf, s + 12),
      sizeOfRawData: u32(buf, s + 16),
      pointerToRawData: u32(buf, s + 20),
      characteristics: u32(buf, s + 36),
    });
  }
  return {
    peOffset,
    fileHeader,
    optionalHeaderOffset: oh,
    magic,
    optionalHeader: Buffer.from(buf.subarray(oh, sectionTable)),
    sectionAlignment: u32(buf, oh + 32),
    fileAlignment: u32(buf, oh + 36),
    sizeOfHeaders: u32(buf, oh + 60),
    imageBase: wide ? buf.readBigUInt64LE(oh + 24) : BigInt(u32(buf, oh + 28)),
    checkSum: u32(buf, oh + 64),
    checkSumOffset: oh + 64,
    certificateTableEntryOffset:
      dirCount > CERTIFICATE_TABLE_INDEX ? ddStart + 8 * CERTIFICATE_TABLE_INDEX : -1,
    dataDirectories,
    sections,
  };
}

/**
 * How many bytes from the start of the file the headers span (through the section table), read
 * from the first bytes of the file; undefined when they are not a PE image's.
 */
export function peHeaderAreaSize(head: Buffer): number | undefined {
  if (head.length < 0x40 || head.toString("latin1", 0, 2) !== "MZ") return undefined;
  const peOffset = u32(head, 0x3c);
  if (peOffset + 24 > head.length) return undefined;
  return peOffset + 24 + u16(head, peOffset + 20) + 40 * u16(head, peOffset + 6);
}

/** The first section called `name`, or undefined. */
export function findSection(headers: PeHeaders, name: string): SectionHeader | undefined {
  return headers.sections.find((s) => s.name === name);
}

/**
 * GUID Partition Table, encoded the way go-blockdevice v2 (`partitioning/gpt`) writes it for Talos
 * disk images: 128 entries of 128 bytes, 1 MiB alignment, first-fit-smallest allocation, a
 * protective MBR that keeps bytes 0..445 (GRUB's boot.img) intact, and positional writes so the
 * image file stays sparse. Also a strict decoder, used by tests and the assembler. No I/O here:
 * the writer and reader of image files (`imager/disk/gpt-file.ts`) hand bytes in and out.
 */
import { crc32 } from "node:zlib";
import { invalidInput } from "../errors/index.js";
import { gptBytesToUuid, uuidToGptBytes } from "./guid.js";

/** Partition type GUIDs used by Talos images. */
export const GPT_TYPE = {
  efi: "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
  biosBoot: "21686148-6449-6e6f-744e-656564454649",
  linuxData: "0fc63daf-8483-4772-8e79-3d69d8477de4",
} as const;

/** Attribute bit 2: legacy BIOS bootable (set on the BIOS boot partition). */
export const GPT_ATTR_LEGACY_BIOS_BOOTABLE = 1n << 2n;

/** Sector sizes Talos images are built with. */
export type SectorSize = 512 | 4096;

const ENTRY_SIZE = 128;
const NUM_ENTRIES = 128;
const HEADER_SIZE = 92;
const SIGNATURE = Buffer.from("EFI PART", "latin1");
const REVISION = 0x00010000;
const MIB = 1024 * 1024;

/** A partition to allocate: size in bytes (0 = the largest free range, as EPHEMERAL uses). */
export interface GptPartitionSpec {
  name: string;
  type: string;
  guid: string;
  size: number;
  attributes?: bigint;
}

/** Table-wide options. */
export interface GptOptions {
  /** Image size in bytes. */
  diskSize: number;
  sectorSize: SectorSize;
  diskGuid: string;
  /** Sectors left free between the primary header and the entries (overlay partition offset). */
  skipLBAs?: number;
}

/** An allocated partition; `index` is the 1-based partition number. */
export interface GptPartition {
  index: number;
  name: string;
  type: string;
  guid: string;
  firstLBA: number;
  lastLBA: number;
  attributes: bigint;
  /** Byte offset of the partition in the image. */
  offset: number;
  /** Size in bytes. */
  size: number;
}

/** A complete table: geometry plus partitions in table order. */
export interface GptTable {
  sectorSize: SectorSize;
  diskGuid: string;
  lastLBA: number;
  primaryEntriesLBA: number;
  backupEntriesLBA: number;
  firstUsableLBA: number;
  lastUsableLBA: number;
  partitions: GptPartition[];
}

interface Geometry {
  lastLBA: number;
  primaryEntriesLBA: number;
  backupEntriesLBA: number;
  firstUsableLBA: number;
  lastUsableLBA: number;
  alignment: number;
}

function geometry(options: GptOptions): Geometry {
  const { diskSize, sectorSize } = options;
  if (sectorSize !== 512 && sectorSize !== 4096)
    throw invalidInput(`unsupported sector size ${String(sectorSize)}`);
  const lastLBA = Math.floor(diskSize / sectorSize) - 1;
  const lbasForEntries = Math.ceil((ENTRY_SIZE * NUM_ENTRIES) / sectorSize);
  const primaryEntriesLBA = 2 + (options.skipLBAs ?? 0);
  const backupEntriesLBA = lastLBA - lbasForEntries;
  // go-blockdevice aligns to max(io size, 1 MiB); a file's io size is its sector size.
  const alignment = Math.ceil(Math.max(sectorSize, MIB) / sectorSize);
  const firstUsableLBA = alignUp(primaryEntriesLBA + lbasForEntries, alignment);
  const lastUsableLBA = backupEntriesLBA - 1;
  if (lastLBA < 33 || lastUsableLBA <= firstUsableLBA) {
    throw invalidInput(`disk of ${diskSize} bytes is too small for a GPT`);
  }
  return { lastLBA, primaryEntriesLBA, backupEntriesLBA, firstUsableLBA, lastUsableLBA, alignment };
}

const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;
const alignDown = (v: number, a: number) => Math.floor(v / a) * a;

interface FreeRange {
  low: number;
  high: number;
  /** Table index of the partition after this range (where a new entry is inserted). */
  before: number;
  size: number;
}

function freeRanges(g: Geometry, sectorSize: number, parts: readonly GptPartition[]): FreeRange[] {
  const ranges: FreeRange[] = [];
  let low = g.firstUsableLBA;
  for (let i = 0; ; i++) {
    const next = parts[i];
    let high = next ? next.firstLBA - 1 : g.lastUsableLBA;
    low = alignUp(low, g.alignment);
    high = alignDown(high, g.alignment);
    // as upstream: the range ends at an aligned LBA that itself stays unallocated
    if (high > low) ranges.push({ low, high, before: i, size: (high - low) * sectorSize });
    if (!next) break;
    low = next.lastLBA + 1;
  }
  return ranges;
}

/** Lays out a table: allocates `specs` in order exactly as upstream does (pure, no I/O). */
export function planGpt(options: GptOptions, specs: readonly GptPartitionSpec[]): GptTable {
  const g = geometry(options);
  const { sectorSize } = options;
  const parts: GptPartition[] = [];
  for (const spec of specs) {
    let size = spec.size;
    if (size === 0) size = Math.max(0, ...freeRanges(g, sectorSize, parts).map((r) => r.size));
    if (size < sectorSize) throw invalidInput(`partition ${spec.name}: size must be at least one sector`);
    if (Buffer.byteLength(spec.name, "utf16le") > 72)
      throw invalidInput(`partition name ${spec.name} is too long`);
    let best: FreeRange | undefined;
    for (const r of freeRanges(g, sectorSize, parts)) {
      if (r.size >= size && (best === undefined || r.size < best.size)) best = r;
    }
    if (!best)
      throw invalidInput(
        `no room for partition ${spec.name} (${size} bytes) on a ${options.diskSize}-byte disk`,
      );
    const firstLBA = best.low;
    const lastLBA = firstLBA + Math.floor(size / sectorSize) - 1;
    parts.splice(best.before, 0, {
      index: 0,
      name: spec.name,
      type: spec.type.toLowerCase(),
      guid: spec.guid.toLowerCase(),
      firstLBA,
      lastLBA,
      attributes: spec.attributes ?? 0n,
      offset: firstLBA * sectorSize,
      size: (lastLBA - firstLBA + 1) * sectorSize,
    });
  }
  parts.forEach((p, i) => (p.index = i + 1));
  return {
    sectorSize,
    diskGuid: options.diskGuid.toLowerCase(),
    lastLBA: g.lastLBA,
    primaryEntriesLBA: g.primaryEntriesLBA,
    backupEntriesLBA: g.backupEntriesLBA,
    firstUsableLBA: g.firstUsableLBA,
    lastUsableLBA: g.lastUsableLBA,
    partitions: parts,
  };
}

function encodeEntries(table: GptTable): Buffer {
  const buf = Buffer.alloc(ENTRY_SIZE * NUM_ENTRIES);
  if (table.partitions.length > NUM_ENTRIES) throw invalidInput("too many partitions");
  table.partitions.forEach((p, i) => {
    const e = buf.subarray(i * ENTRY_SIZE, (i + 1) * ENTRY_SIZE);
    uuidToGptBytes(p.type).copy(e, 0);
    uuidToGptBytes(p.guid).copy(e, 16);
    e.writeBigUInt64LE(BigInt(p.firstLBA), 32);
    e.writeBigUInt64LE(BigInt(p.lastLBA), 40);
    e.writeBigUInt64LE(p.attributes, 48);
    e.write(p.name, 56, 72, "utf16le");
  });
  return buf;
}

function encodeHeader(
  table: GptTable,
  entriesCrc: number,
  myLBA: number,
  alternateLBA: number,
  entriesLBA: number,
): Buffer {
  const h = Buffer.alloc(table.sectorSize);
  SIGNATURE.copy(h, 0);
  h.writeUInt32LE(REVISION, 8);
  h.writeUInt32LE(HEADER_SIZE, 12);
  h.writeBigUInt64LE(BigInt(myLBA), 24);
  h.writeBigUInt64LE(BigInt(alternateLBA), 32);
  h.writeBigUInt64LE(BigInt(table.firstUsableLBA), 40);
  h.writeBigUInt64LE(BigInt(table.lastUsableLBA), 48);
  uuidToGptBytes(table.diskGuid).copy(h, 56);
  h.writeBigUInt64LE(BigInt(entriesLBA), 72);
  h.writeUInt32LE(NUM_ENTRIES, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, HEADER_SIZE)), 16);
  return h;
}

/** The 66 bytes at offset 446 of sector 0: a protective 0xEE entry, three empty ones, 55 AA. */
export function encodeProtectiveMbrTail(lastLBA: number): Buffer {
  const b = Buffer.alloc(66);
  // status 0x00: the imager never marks the PMBR bootable
  b.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 0);
  b.writeUInt32LE(1, 8);
  b.writeUInt32LE(Math.min(lastLBA, 0xffffffff), 12);
  b[64] = 0x55;
  b[65] = 0xaa;
  return b;
}

/** One positional write of an encoded table: bytes and their byte offset in the image. */
export interface GptWrite {
  data: Buffer;
  position: number;
}

/**
 * The writes that put `table` on a disk, in order: primary header, primary entries, backup
 * header, backup entries, and the protective MBR's partition-table tail.
 */
export function encodeGpt(table: GptTable): GptWrite[] {
  const ss = table.sectorSize;
  const entries = encodeEntries(table);
  const entriesCrc = crc32(entries);
  const primary = encodeHeader(table, entriesCrc, 1, table.lastLBA, table.primaryEntriesLBA);
  const backup = encodeHeader(table, entriesCrc, table.lastLBA, 1, table.backupEntriesLBA);
  return [
    { data: primary, position: ss },
    { data: entries, position: table.primaryEntriesLBA * ss },
    { data: backup, position: table.lastLBA * ss },
    { data: entries, position: table.backupEntriesLBA * ss },
    // Only the partition-table tail of sector 0 is ours; bytes 0..445 may hold boot code.
    { data: encodeProtectiveMbrTail(table.lastLBA), position: 446 },
  ];
}

/** Random access to an image's bytes; `read` returns fewer bytes than asked past the end. */
export interface ImageBytes {
  /** Image size in bytes. */
  readonly size: number;
  read(length: number, position: number): Promise<Buffer>;
}

async function readExactly(image: ImageBytes, length: number, position: number): Promise<Buffer> {
  const buf = await image.read(length, position);
  if (buf.length !== length) throw invalidInput(`short read at ${position}: not a GPT image`);
  return buf;
}

interface ParsedHeader {
  myLBA: number;
  alternateLBA: number;
  firstUsableLBA: number;
  lastUsableLBA: number;
  diskGuid: string;
  entriesLBA: number;
  numEntries: number;
  entrySize: number;
  entriesCrc: number;
}

function parseHeader(h: Buffer, where: string): ParsedHeader {
  if (!h.subarray(0, 8).equals(SIGNATURE)) throw invalidInput(`${where}: no GPT signature`);
  const size = h.readUInt32LE(12);
  if (size < HEADER_SIZE || size > h.length) throw invalidInput(`${where}: bad header size ${size}`);
  const copy = Buffer.from(h.subarray(0, size));
  copy.writeUInt32LE(0, 16);
  if (crc32(copy) !== h.readUInt32LE(16)) throw invalidInput(`${where}: header CRC mismatch`);
  return {
    myLBA: Number(h.readBigUInt64LE(24)),
    alternateLBA: Number(h.readBigUInt64LE(32)),
    firstUsableLBA: Number(h.readBigUInt64LE(40)),
    lastUsableLBA: Number(h.readBigUInt64LE(48)),
    diskGuid: gptBytesToUuid(h.subarray(56, 72)),
    entriesLBA: Number(h.readBigUInt64LE(72)),
    numEntries: h.readUInt32LE(80),
    entrySize: h.readUInt32LE(84),
    entriesCrc: h.readUInt32LE(88),
  };
}

async function readEntries(image: ImageBytes, hdr: ParsedHeader, ss: number, where: string): Promise<Buffer> {
  const entries = await readExactly(image, hdr.numEntries * hdr.entrySize, hdr.entriesLBA * ss);
  if (crc32(entries) !== hdr.entriesCrc) throw invalidInput(`${where}: partition entries CRC mismatch`);
  return entries;
}

/**
 * Decodes and validates a GPT image (both headers, both entry arrays, the protective MBR);
 * `invalid-input` errors say what is wrong.
 */
export async function decodeGpt(image: ImageBytes, sectorSize: SectorSize = 512): Promise<GptTable> {
  const { size } = image;
  const lastLBA = Math.floor(size / sectorSize) - 1;
  const mbr = await readExactly(image, 512, 0);
  if (mbr[510] !== 0x55 || mbr[511] !== 0xaa || mbr[450] !== 0xee) throw invalidInput("no protective MBR");
  const primary = parseHeader(await readExactly(image, sectorSize, sectorSize), "primary header");
  if (primary.myLBA !== 1 || primary.alternateLBA !== lastLBA)
    throw invalidInput("primary header LBAs are wrong");
  const backup = parseHeader(await readExactly(image, sectorSize, lastLBA * sectorSize), "backup header");
  if (backup.myLBA !== lastLBA || backup.alternateLBA !== 1)
    throw invalidInput("backup header LBAs are wrong");
  const entries = await readEntries(image, primary, sectorSize, "primary");
  const backupEntries = await readEntries(image, backup, sectorSize, "backup");
  if (!entries.equals(backupEntries)) throw invalidInput("primary and backup partition entries differ");
  const partitions: GptPartition[] = [];
  for (let i = 0; i < primary.numEntries; i++) {
    const e = entries.subarray(i * primary.entrySize, (i + 1) * primary.entrySize);
    if (e.subarray(0, 16).every((b) => b === 0)) continue;
    const firstLBA = Number(e.readBigUInt64LE(32));
    const lastLBAp = Number(e.readBigUInt64LE(40));
    const nameBytes = e.subarray(56, 128);
    let end = 0;
    while (end + 1 < nameBytes.length && (nameBytes[end] !== 0 || nameBytes[end + 1] !== 0)) end += 2;
    partitions.push({
      index: i + 1,
      name: nameBytes.subarray(0, end).toString("utf16le"),
      type: gptBytesToUuid(e.subarray(0, 16)),
      guid: gptBytesToUuid(e.subarray(16, 32)),
      firstLBA,
      lastLBA: lastLBAp,
      attributes: e.readBigUInt64LE(48),
      offset: firstLBA * sectorSize,
      size: (lastLBAp - firstLBA + 1) * sectorSize,
    });
  }
  return {
    sectorSize,
    diskGuid: primary.diskGuid,
    lastLBA,
    primaryEntriesLBA: primary.entriesLBA,
    backupEntriesLBA: backup.entriesLBA,
    firstUsableLBA: primary.firstUsableLBA,
    lastUsableLBA: primary.lastUsableLBA,
    partitions,
  };
}

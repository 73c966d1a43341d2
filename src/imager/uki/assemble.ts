/**
 * Native PE assembly of a UKI, laid out exactly like upstream's `pe.AssembleNative`:
 * the stub's headers and sections are kept, new sections are appended after the stub's
 * last section, and section data is streamed from its sources into the output file.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { invalidInput, ioError, unsupported } from "../../errors/index.js";
import { copySource, sourceSize, type ByteSource } from "./byte-source.js";
import {
  CERTIFICATE_TABLE_INDEX,
  IMAGE_SCN_CNT_INITIALIZED_DATA,
  IMAGE_SCN_MEM_READ,
  PE32PLUS_MAGIC,
  readPeHeaders,
} from "../../formats/pe/pe-reader.js";
import { buildTimestamp } from "../source-date-epoch.js";

/** A section to append: its name (≤ 8 bytes) and where its bytes come from. */
export interface PeSection {
  name: string;
  source: ByteSource;
}

/** Inputs of a PE assembly. */
export interface AssembleOptions {
  /** Path to the PE32+ stub (systemd-stub `linux<arch>.efi.stub`). */
  stub: string;
  /** Sections appended after the stub's own, in this order. */
  sections: readonly PeSection[];
  /** COFF TimeDateStamp in seconds; defaults to SOURCE_DATE_EPOCH or now. */
  timestamp?: number;
}

/** Where one section ended up in the assembled image. */
export interface PlacedSection {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  pointerToRawData: number;
  sizeOfRawData: number;
  characteristics: number;
}

const DOS_HEADER_LENGTH = 0x40;
const DOS_HEADER_PADDING = 0x40;
const FILE_HEADER_SIZE = 20;
const OPTIONAL_HEADER64_SIZE = 240;
/** PE32+ fixed fields (112) plus data directories up to the certificate table (index 4). */
const MIN_OPTIONAL_HEADER64_SIZE = 112 + 8 * (CERTIFICATE_TABLE_INDEX + 1);
const SECTION_HEADER_SIZE = 40;
const APPENDED_CHARACTERISTICS = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ;

const align = (v: number, a: number) => Math.ceil(v / a) * a;

type Placed = PlacedSection & { from: { stubOffset: number } | { source: ByteSource } };

/** A PE image laid out but not written yet. */
export interface PeLayout {
  /** Size in bytes of the file `write` produces. */
  readonly size: number;
  /** Writes the image to `outPath`; returns the section layout. */
  write(outPath: string): Promise<PlacedSection[]>;
}

/** Assembles `stub` + `sections` into a PE image at `outPath`; returns the section layout. */
export async function assemblePe(opts: AssembleOptions, outPath: string): Promise<PlacedSection[]> {
  return (await layoutPe(opts)).write(outPath);
}

/**
 * Lays out `stub` + `sections`: headers and section placement from the stub and the sources'
 * sizes, nothing written. The size is known before a byte is (an ISO sizes its FAT image by it).
 */
export async function layoutPe(opts: AssembleOptions): Promise<PeLayout> {
  const stub = await readPeHeaders(opts.stub);
  const what = `stub ${opts.stub}`;
  if (stub.magic !== PE32PLUS_MAGIC) throw unsupported(`${what}: only PE32+ stubs can be assembled`);
  // Upstream's stubs (and Debian's amd64 one) have the full 240-byte header with 16 data
  // directories; Debian's arm64 systemd-stub 252 (gnu-efi's hand-written header) has only 6.
  // The header is copied as it is, so any size that reaches the certificate table works.
  const optionalHeaderSize = stub.optionalHeader.length;
  if (optionalHeaderSize < MIN_OPTIONAL_HEADER64_SIZE || optionalHeaderSize > OPTIONAL_HEADER64_SIZE) {
    throw unsupported(
      `${what}: optional header is ${optionalHeaderSize} bytes, expected ${MIN_OPTIONAL_HEADER64_SIZE} to ${OPTIONAL_HEADER64_SIZE}`,
    );
  }
  if ((stub.dataDirectories[CERTIFICATE_TABLE_INDEX]?.size ?? 0) !== 0) {
    // A kept certificate table would point at bytes that no longer exist in the output.
    throw invalidInput(`${what}: stub is signed; assemble on the unsigned stub and sign the result`);
  }
  const last = stub.sections.at(-1);
  if (!last) throw invalidInput(`${what}: stub has no sections`);
  const sectionAlignment = stub.sectionAlignment;
  const fileAlignment = stub.fileAlignment;
  if (!(sectionAlignment > 0 && fileAlignment > 0))
    throw invalidInput(`${what}: zero section or file alignment`);

  const placed: Placed[] = stub.sections.map((s) => ({
    name: s.name,
    virtualAddress: s.virtualAddress,
    virtualSize: s.virtualSize,
    sizeOfRawData: s.sizeOfRawData,
    pointerToRawData: 0,
    characteristics: s.characteristics,
    from: { stubOffset: s.pointerToRawData },
  }));
  let va = align(last.virtualAddress + last.virtualSize, sectionAlignment);
  for (const s of opts.sections) {
    if (Buffer.byteLength(s.name, "latin1") > 8 || s.name.length === 0) {
      throw invalidInput(`section name "${s.name}" must be 1 to 8 bytes`);
    }
    const size = await sourceSize(s.source);
    if (size > 0xffffffff) throw unsupported(`section ${s.name} is larger than 4 GiB`);
    placed.push({
      name: s.name,
      virtualAddress: va,
      virtualSize: size,
      sizeOfRawData: align(size, fileAlignment),
      pointerToRawData: 0,
      characteristics: APPENDED_CHARACTERISTICS,
      from: { source: s.source },
    });
    va = align(va + size, sectionAlignment);
  }
  if (placed.length > 0xffff) throw unsupported("too many PE sections");

  // Upstream's formula leaves out the 4-byte PE signature; we keep it for identical bytes
  // and only refuse the (never seen) case where that would make headers overlap data.
  const sizeOfHeaders = align(
    DOS_HEADER_LENGTH +
      DOS_HEADER_PADDING +
      FILE_HEADER_SIZE +
      optionalHeaderSize +
      SECTION_HEADER_SIZE * placed.length,
    fileAlignment,
  );
  const headerEnd =
    DOS_HEADER_LENGTH +
    DOS_HEADER_PADDING +
    4 +
    FILE_HEADER_SIZE +
    optionalHeaderSize +
    SECTION_HEADER_SIZE * placed.length;
  if (headerEnd > sizeOfHeaders) throw unsupported(`${what}: section table does not fit in SizeOfHeaders`);

  let offset = sizeOfHeaders;
  for (const p of placed) {
    p.pointerToRawData = offset;
    offset += p.sizeOfRawData;
  }

  const head = Buffer.alloc(sizeOfHeaders);
  const stubHandle = await open(opts.stub, "r");
  try {
    await stubHandle.read(head, 0, DOS_HEADER_LENGTH, 0);
  } finally {
    await stubHandle.close();
  }
  head.writeUInt32LE(DOS_HEADER_LENGTH + DOS_HEADER_PADDING, 0x3c);
  head.write("PE\0\0", 0x80, "latin1");

  const fh = 0x84;
  const f = stub.fileHeader;
  head.writeUInt16LE(f.machine, fh);
  head.writeUInt16LE(placed.length, fh + 2);
  head.writeUInt32LE((opts.timestamp ?? buildTimestamp()) >>> 0, fh + 4);
  // A COFF symbol table (Debian's stub has one; Talos' stubs are stripped, and upstream
  // refuses unstripped ones) is debug data the loader never reads: it is dropped.
  head.writeUInt32LE(0, fh + 8);
  head.writeUInt32LE(0, fh + 12);
  head.writeUInt16LE(f.sizeOfOptionalHeader, fh + 16);
  const hadSymbols = f.pointerToSymbolTable !== 0 || f.numberOfSymbols !== 0;
  // Mark the drop the way `objcopy --strip-all` does (IMAGE_FILE_LOCAL_SYMS_STRIPPED).
  head.writeUInt16LE(hadSymbols ? f.characteristics | 0x0008 : f.characteristics, fh + 18);

  const oh = fh + FILE_HEADER_SIZE;
  stub.optionalHeader.copy(head, oh);
  head.writeUInt8(0, oh + 2); // MajorLinkerVersion
  head.writeUInt8(0, oh + 3); // MinorLinkerVersion
  let sizeOfCode = 0;
  let sizeOfInitializedData = 0;
  for (const p of placed) {
    if (p.characteristics & IMAGE_SCN_CNT_INITIALIZED_DATA) sizeOfInitializedData += p.sizeOfRawData;
    else sizeOfCode += p.sizeOfRawData;
  }
  head.writeUInt32LE(sizeOfCode >>> 0, oh + 4);
  head.writeUInt32LE(sizeOfInitializedData >>> 0, oh + 8);
  const lastPlaced = placed[placed.length - 1]!;
  const sa = BigInt(sectionAlignment);
  const end = BigInt(lastPlaced.virtualAddress) + BigInt(lastPlaced.virtualSize) + stub.imageBase;
  head.writeUInt32LE(Number((((end + sa - 1n) / sa) * sa - stub.imageBase) & 0xffffffffn), oh + 56);
  head.writeUInt32LE(sizeOfHeaders, oh + 60);
  head.writeUInt32LE(0, oh + 64); // CheckSum

  let sh = oh + optionalHeaderSize;
  for (const p of placed) {
    head.write(p.name, sh, 8, "latin1");
    head.writeUInt32LE(p.virtualSize, sh + 8);
    head.writeUInt32LE(p.virtualAddress, sh + 12);
    head.writeUInt32LE(p.sizeOfRawData, sh + 16);
    head.writeUInt32LE(p.pointerToRawData, sh + 20);
    head.writeUInt32LE(p.characteristics, sh + 36);
    sh += SECTION_HEADER_SIZE;
  }

  return { size: offset, write: (outPath) => writePe(opts.stub, head, placed, outPath) };
}

/** Writes the laid-out image: the headers, then every section from its source. */
async function writePe(
  stubPath: string,
  head: Buffer,
  placed: readonly Placed[],
  outPath: string,
): Promise<PlacedSection[]> {
  const out = await open(outPath, "w").catch((e: unknown) => {
    throw ioError(`cannot create ${outPath}: ${(e as Error).message}`, { cause: e });
  });
  try {
    // Every section has its own place in the file: written side by side (the kernel and the
    // initramfs are most of a UKI), the first failure in section order reported once all stop.
    const writes = await Promise.allSettled([
      out.write(head, 0, head.length, 0),
      ...placed.map(async (p) => {
        const grew = () => ioError(`section ${p.name} grew while being written`);
        let written = 0;
        if ("source" in p.from) {
          written = await copySource(p.from.source, out, p.pointerToRawData, p.sizeOfRawData, grew);
        } else {
          for await (const chunk of stubRange(stubPath, p.from.stubOffset, p.sizeOfRawData)) {
            await out.write(chunk, 0, chunk.length, p.pointerToRawData + written);
            written += chunk.length;
          }
        }
        if ("source" in p.from && written !== p.virtualSize)
          throw ioError(`section ${p.name} changed size while being written`);
        if (written < p.sizeOfRawData) {
          const pad = Buffer.alloc(p.sizeOfRawData - written);
          await out.write(pad, 0, pad.length, p.pointerToRawData + written);
        }
      }),
    ]);
    const failed = writes.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
  } finally {
    await out.close();
  }
  return placed.map(({ from: _from, ...rest }) => rest);
}

async function* stubRange(path: string, start: number, length: number): AsyncGenerator<Uint8Array> {
  if (length === 0) return;
  for await (const chunk of createReadStream(path, { start, end: start + length - 1 })) yield chunk as Buffer;
}

/**
 * The layout of a UKI's PE image, exactly like upstream's `pe.AssembleNative`: the stub's headers
 * and sections are kept, new sections are appended after the stub's last section. This module
 * places the sections and encodes the headers; `imager/uki/assemble.ts` reads the stub and the
 * section sizes and streams the section data into the file.
 */
import { invalidInput, unsupported } from "../../errors/index.js";
import {
  CERTIFICATE_TABLE_INDEX,
  IMAGE_SCN_CNT_INITIALIZED_DATA,
  IMAGE_SCN_MEM_READ,
  PE32PLUS_MAGIC,
  type PeHeaders,
} from "./pe-reader.js";

/** Where one section ended up in the assembled image. */
export interface PlacedSection {
  name: string;
  virtualAddress: number;
  virtualSize: number;
  pointerToRawData: number;
  sizeOfRawData: number;
  characteristics: number;
}

/** Where a placed section's bytes come from: the stub at a file offset, or the n-th appended section. */
export type SectionOrigin = { stubOffset: number } | { appended: number };

/** A placed section and the origin of its bytes. */
export type LaidOutSection = PlacedSection & { from: SectionOrigin };

/** Every section placed: the file size, and the headers once the stub's DOS header is at hand. */
export interface PlacedPeLayout {
  /** Size in bytes of the assembled file. */
  readonly size: number;
  readonly sections: readonly LaidOutSection[];
  /** The header area (`SizeOfHeaders` bytes): `dosHeader` is the stub's first 64 bytes, `timestamp` the COFF TimeDateStamp. */
  encodeHeaders(dosHeader: Buffer, timestamp: number): Buffer;
}

/** Length of the DOS header copied from the stub. */
export const DOS_HEADER_LENGTH = 0x40;
const DOS_HEADER_PADDING = 0x40;
const FILE_HEADER_SIZE = 20;
const OPTIONAL_HEADER64_SIZE = 240;
/** PE32+ fixed fields (112) plus data directories up to the certificate table (index 4). */
const MIN_OPTIONAL_HEADER64_SIZE = 112 + 8 * (CERTIFICATE_TABLE_INDEX + 1);
const SECTION_HEADER_SIZE = 40;
const APPENDED_CHARACTERISTICS = IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ;

const align = (v: number, a: number) => Math.ceil(v / a) * a;

/**
 * Lays out `stub` plus appended sections, step by step so the caller can look each section's size
 * up between the checks (the same errors, in the same order, as one pass over the inputs).
 */
export class PeLayoutBuilder {
  readonly #stub: PeHeaders;
  readonly #what: string;
  readonly #optionalHeaderSize: number;
  readonly #placed: LaidOutSection[];
  #va: number;
  #appended = 0;

  /** Checks the stub (`what` names it in errors) and takes over its sections. */
  constructor(stub: PeHeaders, what: string) {
    this.#stub = stub;
    this.#what = what;
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
    this.#optionalHeaderSize = optionalHeaderSize;
    if ((stub.dataDirectories[CERTIFICATE_TABLE_INDEX]?.size ?? 0) !== 0) {
      // A kept certificate table would point at bytes that no longer exist in the output.
      throw invalidInput(`${what}: stub is signed; assemble on the unsigned stub and sign the result`);
    }
    const last = stub.sections.at(-1);
    if (!last) throw invalidInput(`${what}: stub has no sections`);
    if (!(stub.sectionAlignment > 0 && stub.fileAlignment > 0))
      throw invalidInput(`${what}: zero section or file alignment`);

    this.#placed = stub.sections.map((s) => ({
      name: s.name,
      virtualAddress: s.virtualAddress,
      virtualSize: s.virtualSize,
      sizeOfRawData: s.sizeOfRawData,
      pointerToRawData: 0,
      characteristics: s.characteristics,
      from: { stubOffset: s.pointerToRawData },
    }));
    this.#va = align(last.virtualAddress + last.virtualSize, stub.sectionAlignment);
  }

  /** Refuses a section name that does not fit the 8-byte field (before its size is looked up). */
  checkName(name: string): void {
    if (Buffer.byteLength(name, "latin1") > 8 || name.length === 0) {
      throw invalidInput(`section name "${name}" must be 1 to 8 bytes`);
    }
  }

  /** Appends a section of `size` bytes after the sections so far. */
  append(name: string, size: number): void {
    this.checkName(name);
    if (size > 0xffffffff) throw unsupported(`section ${name} is larger than 4 GiB`);
    this.#placed.push({
      name,
      virtualAddress: this.#va,
      virtualSize: size,
      sizeOfRawData: align(size, this.#stub.fileAlignment),
      pointerToRawData: 0,
      characteristics: APPENDED_CHARACTERISTICS,
      from: { appended: this.#appended++ },
    });
    this.#va = align(this.#va + size, this.#stub.sectionAlignment);
  }

  /** Gives every section its file offset; nothing is appended after this. */
  place(): PlacedPeLayout {
    const placed = this.#placed;
    const stub = this.#stub;
    const optionalHeaderSize = this.#optionalHeaderSize;
    const { sectionAlignment, fileAlignment } = stub;
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
    if (headerEnd > sizeOfHeaders)
      throw unsupported(`${this.#what}: section table does not fit in SizeOfHeaders`);

    let offset = sizeOfHeaders;
    for (const p of placed) {
      p.pointerToRawData = offset;
      offset += p.sizeOfRawData;
    }

    const encodeHeaders = (dosHeader: Buffer, timestamp: number): Buffer => {
      const head = Buffer.alloc(sizeOfHeaders);
      dosHeader.copy(head, 0, 0, DOS_HEADER_LENGTH);
      head.writeUInt32LE(DOS_HEADER_LENGTH + DOS_HEADER_PADDING, 0x3c);
      head.write("PE\0\0", 0x80, "latin1");

      const fh = 0x84;
      const f = stub.fileHeader;
      head.writeUInt16LE(f.machine, fh);
      head.writeUInt16LE(placed.length, fh + 2);
      head.writeUInt32LE(timestamp >>> 0, fh + 4);
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
      return head;
    };
    return { size: offset, sections: placed, encodeHeaders };
  }
}

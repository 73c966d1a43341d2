/**
 * Native PE assembly of a UKI, laid out exactly like upstream's `pe.AssembleNative`
 * (`formats/pe/pe-layout.ts`): the stub's headers and sections are kept, new sections are
 * appended after the stub's last section, and section data is streamed from its sources into the
 * output file.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { ioError } from "../../errors/index.js";
import {
  DOS_HEADER_LENGTH,
  PeLayoutBuilder,
  type LaidOutSection,
  type PlacedSection,
} from "../../formats/pe/pe-layout.js";
import { buildTimestamp } from "../source-date-epoch.js";
import { copySource, sourceSize, type ByteSource } from "./byte-source.js";
import { readPeHeaders } from "./pe-file.js";

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
  const layout = new PeLayoutBuilder(stub, `stub ${opts.stub}`);
  for (const s of opts.sections) {
    layout.checkName(s.name);
    layout.append(s.name, await sourceSize(s.source));
  }
  const placed = layout.place();

  const dosHeader = Buffer.alloc(DOS_HEADER_LENGTH);
  const stubHandle = await open(opts.stub, "r");
  try {
    await stubHandle.read(dosHeader, 0, DOS_HEADER_LENGTH, 0);
  } finally {
    await stubHandle.close();
  }
  const head = placed.encodeHeaders(dosHeader, opts.timestamp ?? buildTimestamp());
  const sources = opts.sections.map((s) => s.source);
  return {
    size: placed.size,
    write: (outPath) => writePe(opts.stub, head, placed.sections, sources, outPath),
  };
}

/** Writes the laid-out image: the headers, then every section from its source. */
async function writePe(
  stubPath: string,
  head: Buffer,
  placed: readonly LaidOutSection[],
  sources: readonly ByteSource[],
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
        if ("appended" in p.from) {
          written = await copySource(
            sources[p.from.appended]!,
            out,
            p.pointerToRawData,
            p.sizeOfRawData,
            grew,
          );
        } else {
          for await (const chunk of stubRange(stubPath, p.from.stubOffset, p.sizeOfRawData)) {
            await out.write(chunk, 0, chunk.length, p.pointerToRawData + written);
            written += chunk.length;
          }
        }
        if ("appended" in p.from && written !== p.virtualSize)
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

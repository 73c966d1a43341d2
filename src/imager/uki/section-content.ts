/**
 * UKI section content read from the input files: the kernel version of an x86 bzImage (`.uname`)
 * and the stub's `.sbat` (the text sections are `formats/pe/uki-sections.ts`).
 */
import { open } from "node:fs/promises";
import { invalidInput } from "../../errors/index.js";
import { findSection } from "../../formats/pe/pe-reader.js";
import { kernelVersionFromBzImage } from "../../formats/pe/uki-sections.js";
import type { ByteSource } from "./byte-source.js";
import { readPeHeaders, readSectionData } from "./pe-file.js";

/** `.uname` content discovered from the kernel, or undefined (section omitted). */
export async function discoverKernelVersion(kernel: ByteSource): Promise<string | undefined> {
  // The setup header plus the version string live within the first 64 KiB of any bzImage.
  const want = 0x10000;
  if ("bytes" in kernel) return kernelVersionFromBzImage(Buffer.from(kernel.bytes.subarray(0, want)));
  const fh = await open(kernel.path, "r");
  try {
    const buf = Buffer.alloc(want);
    const { bytesRead } = await fh.read(buf, 0, want, 0);
    return kernelVersionFromBzImage(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/** The stub's `.sbat` data cut to VirtualSize (measured into PCR 11, never appended). */
export async function stubSbat(stubPath: string): Promise<Buffer> {
  const sbat = await findStubSbat(stubPath);
  if (!sbat) throw invalidInput(`stub ${stubPath}: could not find SBAT section`);
  return sbat;
}

/**
 * The stub's `.sbat` data, or undefined when its section table has none. Talos' stubs always
 * have one; Debian's arm64 systemd-stub 252 is a gnu-efi image whose hand-written PE header
 * lists only `.text` and `.data` (the SBAT data sits inside `.data`), so there is nothing to
 * measure and systemd-stub 252 would not measure it either.
 */
export async function findStubSbat(stubPath: string): Promise<Buffer | undefined> {
  const headers = await readPeHeaders(stubPath);
  const s = findSection(headers, ".sbat");
  return s ? readSectionData(stubPath, s) : undefined;
}

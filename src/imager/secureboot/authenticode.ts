/**
 * Authenticode signing of PE images (what sd-boot and the UKI get), following go-uefi
 * as upstream uses it: SHA-256 image hash per the Authenticode spec, the image padded
 * to 8 bytes, one WIN_CERTIFICATE appended and the certificate-table entry pointed at it.
 * The CheckSum field is left as it is, like upstream. Everything is streamed from disk.
 */
import { createReadStream } from "node:fs";
import { copyFile, open, stat } from "node:fs/promises";
import { createHash, type Hash } from "node:crypto";
import { invalidInput, ioError } from "../../errors/index.js";
import { CERTIFICATE_TABLE_INDEX, type PeHeaders } from "../../formats/pe/pe-reader.js";
import { readPeHeaders } from "../uki/pe-file.js";
import { buildTimestamp } from "../source-date-epoch.js";
import { signAuthenticode } from "./pkcs7.js";
import type { CertificateSigner } from "./signer.js";

const WIN_CERT_REVISION_2_0 = 0x0200;
const WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002;

const pad8 = (n: number) => (8 - (n % 8)) % 8;

async function hashRange(h: Hash, path: string, start: number, end: number): Promise<void> {
  if (end <= start) return;
  for await (const chunk of createReadStream(path, { start, end: end - 1, highWaterMark: 1 << 20 }))
    h.update(chunk as Buffer);
}

/** The Authenticode SHA-256 digest of the (unsigned) PE image at `path`, with its layout facts. */
export async function authenticodeDigest(
  path: string,
): Promise<{ digest: Buffer; headers: PeHeaders; fileSize: number }> {
  const headers = await readPeHeaders(path);
  const fileSize = (await stat(path)).size;
  if (headers.certificateTableEntryOffset < 0) {
    throw invalidInput(`${path}: no certificate table data directory; cannot hold a signature`);
  }
  const certDir = headers.dataDirectories[CERTIFICATE_TABLE_INDEX]!;
  if (certDir.size !== 0) throw invalidInput(`${path}: already signed; sign the unsigned image`);
  const h = createHash("sha256");
  // Header, skipping CheckSum and the certificate-table entry.
  await hashRange(h, path, 0, headers.checkSumOffset);
  await hashRange(h, path, headers.checkSumOffset + 4, headers.certificateTableEntryOffset);
  await hashRange(h, path, headers.certificateTableEntryOffset + 8, headers.sizeOfHeaders);
  // Sections in file order, then whatever follows them, zero-padded to 8 bytes.
  let hashed = headers.sizeOfHeaders;
  const sections = [...headers.sections]
    .filter((s) => s.sizeOfRawData > 0)
    .sort((a, b) => a.pointerToRawData - b.pointerToRawData);
  for (const s of sections) {
    if (s.pointerToRawData + s.sizeOfRawData > fileSize)
      throw invalidInput(`${path}: section ${s.name} extends past the end of the file`);
    await hashRange(h, path, s.pointerToRawData, s.pointerToRawData + s.sizeOfRawData);
    hashed += s.sizeOfRawData;
  }
  await hashRange(h, path, hashed, fileSize);
  h.update(Buffer.alloc(pad8(fileSize)));
  return { digest: h.digest(), headers, fileSize };
}

/** Options of `signPe`. */
export interface SignPeOptions {
  /** PKCS#7 signingTime in seconds; defaults to SOURCE_DATE_EPOCH or now. */
  signingTime?: number;
}

/** Authenticode-signs the PE image `inPath` into `outPath` with the signer's key and certificate. */
export async function signPe(
  inPath: string,
  outPath: string,
  signer: CertificateSigner,
  opts: SignPeOptions = {},
): Promise<void> {
  const { digest, headers, fileSize } = await authenticodeDigest(inPath);
  const when = new Date((opts.signingTime ?? buildTimestamp()) * 1000);
  const pkcs7 = await signAuthenticode(digest, signer, when);

  const certLength = 8 + pkcs7.length;
  const entry = Buffer.alloc(certLength + pad8(certLength));
  entry.writeUInt32LE(certLength, 0);
  entry.writeUInt16LE(WIN_CERT_REVISION_2_0, 4);
  entry.writeUInt16LE(WIN_CERT_TYPE_PKCS_SIGNED_DATA, 6);
  pkcs7.copy(entry, 8);

  const tableOffset = fileSize + pad8(fileSize);
  const dir = Buffer.alloc(8);
  dir.writeUInt32LE(tableOffset, 0);
  dir.writeUInt32LE(entry.length, 4);

  try {
    if (inPath !== outPath) await copyFile(inPath, outPath);
    const out = await open(outPath, "r+");
    try {
      await out.write(dir, 0, 8, headers.certificateTableEntryOffset);
      const tail = Buffer.concat([Buffer.alloc(pad8(fileSize)), entry]);
      await out.write(tail, 0, tail.length, fileSize);
    } finally {
      await out.close();
    }
  } catch (e) {
    throw ioError(`cannot write signed image ${outPath}: ${(e as Error).message}`, { cause: e });
  }
}

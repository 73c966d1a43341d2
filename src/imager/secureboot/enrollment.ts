/**
 * SecureBoot enrollment database (`PK.auth`, `KEK.auth`, `db.auth`) as upstream's
 * `internal/pkg/secureboot/database` writes them with go-uefi: EFI signature lists
 * wrapped in time-based authenticated variables (EFI_VARIABLE_AUTHENTICATION_2).
 * Unlike upstream, the EFI_TIME comes from SOURCE_DATE_EPOCH, so the files are reproducible.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import { buildTimestamp } from "../source-date-epoch.js";
import { KEY_FILES } from "./keys.js";
import { signDetachedNoAttributes } from "./pkcs7.js";
import type { CertificateSigner } from "./signer.js";
import { toPem, type Certificate } from "./x509.js";

/** EFI_CERT_X509_GUID: signature list entries holding X.509 certificates. */
export const EFI_CERT_X509_GUID = "a5c059a1-94e4-4aa7-87b5-ab155c2bf072";
/** EFI_CERT_TYPE_PKCS7_GUID: WIN_CERTIFICATE_UEFI_GUID carrying PKCS#7. */
export const EFI_CERT_TYPE_PKCS7_GUID = "4aafd29d-68df-49ee-8aa9-347d375665a7";
/** Vendor GUID of PK and KEK. */
export const EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/** Vendor GUID of db and dbx. */
export const EFI_IMAGE_SECURITY_DATABASE_GUID = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";
/** Owner GUID upstream gives the Microsoft certificates. */
export const MICROSOFT_OWNER_GUID = "77fa9abd-0359-4d32-bd60-28f4e78f784b";
/** NON_VOLATILE | BOOTSERVICE_ACCESS | RUNTIME_ACCESS | TIME_BASED_AUTHENTICATED_WRITE_ACCESS. */
export const SECURE_BOOT_VARIABLE_ATTRIBUTES = 0x27;

const WIN_CERT_TYPE_EFI_GUID = 0x0ef1;
const NAMESPACE_X500 = "6ba7b814-9dad-11d1-80b4-00c04fd430c8";

/** The 16 bytes of a GUID in EFI (mixed-endian) layout. */
export function guidBytes(guid: string): Buffer {
  const hex = guid.replaceAll("-", "");
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw invalidInput(`invalid GUID "${guid}"`);
  const b = Buffer.from(hex, "hex");
  // The first three fields are little-endian in EFI_GUID.
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
}

/** GUID text of 16 EFI-layout bytes. */
export function guidString(bytes: Buffer): string {
  const h = Buffer.concat([
    Buffer.from(bytes.subarray(0, 4)).reverse(),
    Buffer.from(bytes.subarray(4, 6)).reverse(),
    Buffer.from(bytes.subarray(6, 8)).reverse(),
    bytes.subarray(8, 16),
  ]).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Name-based UUID v4-marked over SHA-256, like Go's `uuid.NewHash(sha256.New(), NameSpaceX500, data, 4)`. */
export function ownerGuidFor(data: Buffer): string {
  const u = createHash("sha256")
    .update(Buffer.from(NAMESPACE_X500.replaceAll("-", ""), "hex"))
    .update(data)
    .digest()
    .subarray(0, 16);
  u[6] = (u[6]! & 0x0f) | 0x40;
  u[8] = (u[8]! & 0x3f) | 0x80;
  const h = u.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** One signature in a list: owner GUID and data. */
export interface SignatureEntry {
  owner: string;
  data: Buffer;
}

/** One EFI_SIGNATURE_LIST. */
export interface SignatureList {
  type: string;
  entries: SignatureEntry[];
}

/** Adds an entry the way go-uefi does: into the first list of that type and entry size, else a new list. */
export function appendSignature(db: SignatureList[], type: string, entry: SignatureEntry): void {
  const list = db.find((l) => l.type === type && l.entries[0]?.data.length === entry.data.length);
  if (list) list.entries.push(entry);
  else db.push({ type, entries: [entry] });
}

/** Serialises signature lists (EFI_SIGNATURE_LIST, no signature header). */
export function encodeSignatureLists(db: readonly SignatureList[]): Buffer {
  return Buffer.concat(
    db.map((l) => {
      const size = 16 + (l.entries[0]?.data.length ?? 0);
      const head = Buffer.alloc(28);
      guidBytes(l.type).copy(head, 0);
      head.writeUInt32LE(28 + size * l.entries.length, 16);
      head.writeUInt32LE(0, 20);
      head.writeUInt32LE(size, 24);
      return Buffer.concat([head, ...l.entries.flatMap((e) => [guidBytes(e.owner), e.data])]);
    }),
  );
}

/** Parses EFI signature lists. */
export function parseSignatureLists(buf: Buffer): SignatureList[] {
  const out: SignatureList[] = [];
  for (let off = 0; off < buf.length;) {
    if (off + 28 > buf.length) throw invalidInput("truncated EFI signature list");
    const listSize = buf.readUInt32LE(off + 16);
    const headerSize = buf.readUInt32LE(off + 20);
    const size = buf.readUInt32LE(off + 24);
    if (
      listSize < 28 + headerSize ||
      off + listSize > buf.length ||
      size < 16 ||
      (listSize - 28 - headerSize) % size !== 0
    ) {
      throw invalidInput("malformed EFI signature list");
    }
    const entries: SignatureEntry[] = [];
    for (let e = off + 28 + headerSize; e < off + listSize; e += size) {
      entries.push({
        owner: guidString(buf.subarray(e, e + 16)),
        data: Buffer.from(buf.subarray(e + 16, e + size)),
      });
    }
    out.push({ type: guidString(buf.subarray(off, off + 16)), entries });
    off += listSize;
  }
  return out;
}

/** EFI_TIME for a Unix time (UTC; nanosecond, zone and daylight zero as time-based auth requires). */
export function efiTime(seconds: number): Buffer {
  const d = new Date(seconds * 1000);
  const t = Buffer.alloc(16);
  t.writeUInt16LE(d.getUTCFullYear(), 0);
  t.writeUInt8(d.getUTCMonth() + 1, 2);
  t.writeUInt8(d.getUTCDate(), 3);
  t.writeUInt8(d.getUTCHours(), 4);
  t.writeUInt8(d.getUTCMinutes(), 5);
  t.writeUInt8(d.getUTCSeconds(), 6);
  return t;
}

/** The secure variables the enrollment files update. */
export type SecureVariable = "PK" | "KEK" | "db";

const VENDOR: Record<SecureVariable, string> = {
  PK: EFI_GLOBAL_VARIABLE,
  KEK: EFI_GLOBAL_VARIABLE,
  db: EFI_IMAGE_SECURITY_DATABASE_GUID,
};

/** The bytes an authenticated variable's signature covers. */
export function authenticatedPayload(name: SecureVariable, time: Buffer, data: Buffer): Buffer {
  const attrs = Buffer.alloc(4);
  attrs.writeUInt32LE(SECURE_BOOT_VARIABLE_ATTRIBUTES);
  return Buffer.concat([Buffer.from(name, "utf16le"), guidBytes(VENDOR[name]), attrs, time, data]);
}

/** An EFI_VARIABLE_AUTHENTICATION_2 header followed by `data`, signed by `signer`. */
export async function signEfiVariable(
  name: SecureVariable,
  data: Buffer,
  signer: CertificateSigner,
  seconds: number,
): Promise<Buffer> {
  const time = efiTime(seconds);
  const certData = await signDetachedNoAttributes(authenticatedPayload(name, time, data), signer);
  const hdr = Buffer.alloc(8);
  hdr.writeUInt32LE(24 + certData.length, 0);
  hdr.writeUInt16LE(0x0200, 4);
  hdr.writeUInt16LE(WIN_CERT_TYPE_EFI_GUID, 6);
  return Buffer.concat([time, hdr, guidBytes(EFI_CERT_TYPE_PKCS7_GUID), certData, data]);
}

/** A parsed `.auth` file. */
export interface AuthVariable {
  time: Buffer;
  /** Detached PKCS#7 SignedData (no ContentInfo). */
  certData: Buffer;
  /** The variable content (signature lists). */
  data: Buffer;
}

/** Splits an EFI_VARIABLE_AUTHENTICATION_2 file into time, signature and content. */
export function parseAuthVariable(buf: Buffer): AuthVariable {
  if (buf.length < 40) throw invalidInput("truncated authenticated variable");
  const length = buf.readUInt32LE(16);
  if (
    buf.readUInt16LE(22) !== WIN_CERT_TYPE_EFI_GUID ||
    guidString(buf.subarray(24, 40)) !== EFI_CERT_TYPE_PKCS7_GUID ||
    length < 24 ||
    16 + length > buf.length
  ) {
    throw invalidInput("not an EFI_VARIABLE_AUTHENTICATION_2 with PKCS#7");
  }
  return {
    time: buf.subarray(0, 16),
    certData: buf.subarray(40, 16 + length),
    data: buf.subarray(16 + length),
  };
}

/** Options of `generateEnrollmentDatabase`. */
export interface EnrollmentOptions {
  /** Signs all three variables; its certificate is enrolled unless `enrolled` is given. */
  signer: CertificateSigner;
  /** The certificate to enroll (default: the signer's). */
  enrolled?: Certificate;
  /**
   * How the enrolled certificate is stored in the lists. Default "der", as the UEFI spec
   * intends: EDK2/OVMF checks every X.509 entry with `d2i_X509` (CheckSignatureListFormat)
   * and refuses upstream's PEM text (imager.md §7.6 quirk) with EFI_INVALID_PARAMETER, so
   * systemd-boot's `secure-boot-enroll` fails on the first variable (db). "pem" reproduces
   * upstream's bytes.
   */
  encoding?: "pem" | "der";
  /** Extra Microsoft certificates (DER) when including well-known certs, already in upstream's order. */
  wellKnown?: { kek: readonly Buffer[]; db: readonly Buffer[] };
  /** EFI_TIME in seconds; defaults to SOURCE_DATE_EPOCH or now. */
  timestamp?: number;
}

/** The three enrollment files, by upstream file name. */
export type EnrollmentDatabase = Record<"PK.auth" | "KEK.auth" | "db.auth", Buffer>;

/** Builds the signed PK, KEK and db enrollment files. */
export async function generateEnrollmentDatabase(opts: EnrollmentOptions): Promise<EnrollmentDatabase> {
  const cert = opts.enrolled ?? opts.signer.certificate;
  const enrolled =
    (opts.encoding ?? "der") === "pem" ? Buffer.from(toPem("CERTIFICATE", cert.der), "latin1") : cert.der;
  const owner = ownerGuidFor(enrolled);
  const seconds = opts.timestamp ?? buildTimestamp();
  const listFor = (extra: readonly Buffer[]) => {
    const db: SignatureList[] = [];
    appendSignature(db, EFI_CERT_X509_GUID, { owner, data: enrolled });
    for (const der of extra)
      appendSignature(db, EFI_CERT_X509_GUID, { owner: MICROSOFT_OWNER_GUID, data: der });
    return encodeSignatureLists(db);
  };
  return {
    "PK.auth": await signEfiVariable("PK", listFor([]), opts.signer, seconds),
    "KEK.auth": await signEfiVariable("KEK", listFor(opts.wellKnown?.kek ?? []), opts.signer, seconds),
    "db.auth": await signEfiVariable("db", listFor(opts.wellKnown?.db ?? []), opts.signer, seconds),
  };
}

/** Writes the enrollment files into `dir` with upstream names; returns their paths. */
export async function writeEnrollmentDatabase(
  dir: string,
  opts: EnrollmentOptions,
): Promise<{ pk: string; kek: string; db: string }> {
  const files = await generateEnrollmentDatabase(opts);
  await mkdir(dir, { recursive: true });
  const paths = {
    pk: join(dir, KEY_FILES.platformKey),
    kek: join(dir, KEY_FILES.keyExchangeKey),
    db: join(dir, KEY_FILES.signatureDb),
  };
  await writeFile(paths.pk, files["PK.auth"], { mode: 0o600 });
  await writeFile(paths.kek, files["KEK.auth"], { mode: 0o600 });
  await writeFile(paths.db, files["db.auth"], { mode: 0o600 });
  return paths;
}

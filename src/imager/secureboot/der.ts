/**
 * Minimal ASN.1 DER writer and reader: exactly what CMS/Authenticode, X.509 test
 * certificates and certificate fields need, with byte-for-byte control over encoding
 * (signatures are only reproducible when every byte is).
 */
import { invalidInput } from "../../errors/index.js";

/** Encodes a DER length. */
function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A TLV with the given tag byte and concatenated contents. */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

/** SEQUENCE of already-encoded elements. */
export const seq = (...items: Uint8Array[]) => tlv(0x30, ...items);

/** SET OF, elements sorted by their encoding as DER requires. */
export function setOf(...items: Uint8Array[]): Buffer {
  const sorted = items.map((i) => Buffer.from(i)).sort((a, b) => Buffer.compare(a, b));
  return tlv(0x31, ...sorted);
}

/** Context-specific constructed [n] (EXPLICIT tagging, or IMPLICIT of a constructed type). */
export const ctx = (n: number, ...items: Uint8Array[]) => tlv(0xa0 | n, ...items);

/** Context-specific primitive [n] (IMPLICIT of a primitive type). */
export const ctxPrim = (n: number, data: Uint8Array) => tlv(0x80 | n, data);

/** NULL. */
export const nul = () => Buffer.from([0x05, 0x00]);

/** OCTET STRING. */
export const octets = (data: Uint8Array) => tlv(0x04, data);

/** BIT STRING with no unused bits. */
export const bitString = (data: Uint8Array) => tlv(0x03, Buffer.from([0]), data);

/** UTF8String. */
export const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));

/** BOOLEAN. */
export const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));

/** INTEGER from a non-negative bigint or number (minimal two's complement). */
export function int(v: bigint | number): Buffer {
  let n = BigInt(v);
  if (n < 0n) throw invalidInput("negative DER integers are not supported");
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (n > 0n);
  if (bytes[0]! & 0x80) bytes.unshift(0);
  return tlv(0x02, Buffer.from(bytes));
}

/** OBJECT IDENTIFIER from dotted text. */
export function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map((p) => BigInt(p));
  const out: number[] = [];
  const first = parts[0]! * 40n + parts[1]!;
  for (const arc of [first, ...parts.slice(2)]) {
    const chunk: number[] = [];
    let v = arc;
    do {
      chunk.unshift(Number(v & 0x7fn));
      v >>= 7n;
    } while (v > 0n);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime (years 1950–2049) or GeneralizedTime otherwise, per RFC 5280. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = date.getUTCFullYear();
  if (year >= 1950 && year < 2050) return tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, "latin1"));
  return tlv(0x18, Buffer.from(`${digits}Z`, "latin1"));
}

/** A decoded TLV: tag, the whole encoding and the content. */
export interface Tlv {
  tag: number;
  /** Full encoding (header + content). */
  der: Buffer;
  content: Buffer;
}

/** Reads the TLV at `offset` of `buf`. */
export function readTlv(buf: Buffer, offset = 0): Tlv {
  const bad = () => invalidInput("malformed DER data");
  if (offset + 2 > buf.length) throw bad();
  const tag = buf[offset]!;
  let len = buf[offset + 1]!;
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || offset + 2 + n > buf.length) throw bad();
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[offset + 2 + i]!;
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw bad();
  return { tag, der: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** The TLV children of a constructed value's content. */
export function children(content: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let off = 0; off < content.length;) {
    const t = readTlv(content, off);
    out.push(t);
    off += t.der.length;
  }
  return out;
}

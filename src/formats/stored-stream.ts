/**
 * Stored (uncompressed) zstd frames and xz streams: data that is already compressed wrapped in the
 * container format without being compressed again, so a file stays valid in its format (`zstd -d`,
 * `xz -d`, the kernel's initramfs decoders) at the cost of a copy. Both are written by hand from
 * the format specifications (RFC 8878 for zstd; the .xz file format 1.2 and LZMA2's uncompressed
 * chunks for xz), so their bytes do not depend on the installed tools' versions.
 */
import { crc32 } from "node:zlib";

/** Largest zstd block: min(window size, 128 KiB); the frame announces a 128 KiB window. */
const ZSTD_BLOCK = 128 * 1024;
/** Largest uncompressed LZMA2 chunk. */
const LZMA2_CHUNK = 64 * 1024;

/**
 * Re-chunks `input` into pieces of exactly `size` bytes (the last one shorter, possibly empty when
 * the input is), each with a flag saying whether it is the last.
 */
async function* pieces(
  input: Iterable<Buffer> | AsyncIterable<Buffer>,
  size: number,
): AsyncGenerator<{ data: Buffer; last: boolean }> {
  let pending: Buffer[] = [];
  let length = 0;
  const take = (): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, length);
    const data = all.subarray(0, size);
    const rest = all.subarray(size);
    pending = rest.length > 0 ? [rest] : [];
    length = rest.length;
    return data;
  };
  for await (const chunk of input) {
    if (chunk.length === 0) continue;
    pending.push(chunk);
    length += chunk.length;
    // Strictly more than one piece buffered: the one taken is known not to be the last.
    while (length > size) yield { data: take(), last: false };
  }
  yield { data: take(), last: true };
}

/**
 * One zstd frame of raw blocks holding `input` as is: no window data is referenced, so the frame
 * announces a 128 KiB window (what a decoder allocates) whatever the content size.
 */
export async function* zstdStoredFrame(
  input: Iterable<Buffer> | AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  // Magic, Frame_Header_Descriptor 0 (no content size, not single-segment, no checksum, no
  // dictionary), Window_Descriptor: exponent 7, mantissa 0 → 2^(10+7) bytes.
  yield Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 7 << 3]);
  for await (const { data, last } of pieces(input, ZSTD_BLOCK)) {
    // Block_Header: Last_Block bit, Block_Type 0 (Raw), Block_Size; 3 bytes little-endian.
    const v = (data.length << 3) | (last ? 1 : 0);
    yield Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
    if (data.length > 0) yield data;
  }
}

/** xz's variable-length integer: 7 bits per byte, least significant first. */
function multibyte(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** `bytes` followed by zeros up to a multiple of four, then the CRC32 of all of it. */
function withPaddingAndCrc(bytes: number[]): Buffer {
  const body = Buffer.alloc(bytes.length + ((4 - (bytes.length % 4)) % 4));
  Buffer.from(bytes).copy(body);
  return Buffer.concat([body, u32le(crc32(body))]);
}

/**
 * One xz stream (CRC32 check, one block, one LZMA2 filter) whose LZMA2 data is uncompressed chunks
 * holding `input` as is.
 */
export async function* xzStoredStream(
  input: Iterable<Buffer> | AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  // Stream Flags: no reserved bits, check type 1 (CRC32).
  const flags = Buffer.from([0x00, 0x01]);
  yield Buffer.concat([Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), flags, u32le(crc32(flags))]);
  // Block Header: size field, flags (one filter, no sizes), LZMA2 (0x21) with one property byte
  // (dictionary 4 KiB: uncompressed chunks never reference it), padding, CRC32.
  const headerBody = [0x00, 0x00, 0x21, 0x01, 0x00];
  headerBody[0] = Math.ceil(headerBody.length / 4); // (padded size + CRC32) / 4 - 1
  const header = withPaddingAndCrc(headerBody);
  yield header;
  let compressed = 0;
  let uncompressed = 0;
  let check = 0;
  let first = true;
  for await (const { data } of pieces(input, LZMA2_CHUNK)) {
    if (data.length === 0) continue;
    // Control 1: uncompressed chunk with dictionary reset (the first), 2: without.
    yield Buffer.from([first ? 0x01 : 0x02, (data.length - 1) >> 8, (data.length - 1) & 0xff]);
    yield data;
    first = false;
    compressed += 3 + data.length;
    uncompressed += data.length;
    check = crc32(data, check);
  }
  // LZMA2 end marker, Block Padding to a multiple of four, the check.
  compressed += 1;
  const blockPadding = (4 - ((header.length + compressed) % 4)) % 4;
  yield Buffer.concat([Buffer.from([0x00]), Buffer.alloc(blockPadding), u32le(check)]);
  // Index: one record (unpadded size, uncompressed size), padding, CRC32.
  const unpadded = header.length + compressed + 4;
  const index = withPaddingAndCrc([
    0x00,
    ...multibyte(1),
    ...multibyte(unpadded),
    ...multibyte(uncompressed),
  ]);
  yield index;
  // Stream Footer: CRC32 of Backward Size and Stream Flags, then both, then the magic.
  const backward = Buffer.concat([u32le(index.length / 4 - 1), flags]);
  yield Buffer.concat([u32le(crc32(backward)), backward, Buffer.from([0x59, 0x5a])]);
}

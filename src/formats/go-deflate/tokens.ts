/**
 * LZ77 tokens as Go's `compress/flate` queues them, and the RFC 1951 length/distance code tables.
 * A token is one number so a block's tokens fit a plain array: literals are the byte value (or
 * 256 for end-of-block); matches set bit 30 and pack `length - 3` above `distance - 1`.
 */

/** Set on match tokens; anything below it is a literal (0–255) or the end-of-block marker. */
export const MATCH_FLAG = 1 << 30;
const LENGTH_SHIFT = 22;
const OFFSET_MASK = (1 << LENGTH_SHIFT) - 1;

/** The end-of-block symbol, queued as a literal token when a block is written. */
export const END_BLOCK = 256;
/** The first length symbol in the literal/length alphabet. */
export const LENGTH_CODES_START = 257;
/** Literal/length alphabet size (0–285). */
export const LITERAL_COUNT = 286;
/** Distance alphabet size (0–29). */
export const OFFSET_CODE_COUNT = 30;

/** A match token for `length` (3–258) bytes at `distance` (1–32768) back. */
export function matchToken(length: number, distance: number): number {
  return MATCH_FLAG + ((length - 3) << LENGTH_SHIFT) + (distance - 1);
}

/** `length - 3` of a match token. */
export function tokenLength(t: number): number {
  return (t - MATCH_FLAG) >>> LENGTH_SHIFT;
}

/** `distance - 1` of a match token. */
export function tokenOffset(t: number): number {
  return t & OFFSET_MASK;
}

/** Extra bits per length code (index = symbol - 257), RFC 1951 3.2.5. */
export const LENGTH_EXTRA_BITS: readonly number[] = [
  0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];

/** Smallest `length - 3` of each length code. */
export const LENGTH_BASE: readonly number[] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224,
  255,
];

/** Extra bits per distance code, RFC 1951 3.2.5. */
export const OFFSET_EXTRA_BITS: readonly number[] = [
  0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];

/** Smallest `distance - 1` of each distance code. */
export const OFFSET_BASE: readonly number[] = OFFSET_EXTRA_BITS.reduce<number[]>((bases, _bits, code) => {
  bases.push(code === 0 ? 0 : bases[code - 1]! + (1 << OFFSET_EXTRA_BITS[code - 1]!));
  return bases;
}, []);

// Direct lookup tables; 32 KiB for distances is cheaper than Go's three-way split and exact.
const LENGTH_CODE = new Uint8Array(256);
const OFFSET_CODE = new Uint8Array(32768);
for (let code = 0; code < 28; code++) {
  const base = LENGTH_BASE[code]!;
  LENGTH_CODE.fill(code, base, base + (1 << LENGTH_EXTRA_BITS[code]!));
}
// Length 258 has its own symbol (285) even though symbol 284's extra bits could reach it.
LENGTH_CODE[255] = 28;
for (let code = 0; code < OFFSET_CODE_COUNT; code++) {
  const base = OFFSET_BASE[code]!;
  OFFSET_CODE.fill(code, base, base + (1 << OFFSET_EXTRA_BITS[code]!));
}

/** Length code (0–28, add 257 for the symbol) of `length - 3`. */
export function lengthCode(xlength: number): number {
  return LENGTH_CODE[xlength]!;
}

/** Distance code (0–29) of `distance - 1`. */
export function offsetCode(xoffset: number): number {
  return OFFSET_CODE[xoffset]!;
}

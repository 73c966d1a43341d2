/**
 * Length-limited canonical Huffman codes built exactly as Go's `compress/flate` builds them, so
 * that equal frequencies give Go's code lengths (its tie-breaking decides the output bytes).
 */
import { BootforgeError } from "../../errors/index.js";
import { LITERAL_COUNT, OFFSET_CODE_COUNT } from "./tokens.js";

/** Per-symbol code lengths (0 = unused) and codes, bit-reversed so they can be written LSB-first. */
export interface HuffmanCode {
  readonly lengths: Uint8Array;
  readonly codes: Uint16Array;
}

interface SymbolFreq {
  readonly symbol: number;
  readonly freq: number;
}

const NO_MORE = 0x7fffffff;

/** Reverses the low `bits` bits of `value`. */
export function reverseBits(value: number, bits: number): number {
  let out = 0;
  for (let i = 0; i < bits; i++) out |= ((value >>> i) & 1) << (bits - 1 - i);
  return out;
}

/**
 * How many symbols get each code length (index = length), for symbols sorted by rising frequency.
 * This is the lazy boundary package-merge Go uses: one chain per length, advancing whichever of
 * "next leaf" or "next package from the level below" is cheaper, preferring the package on ties.
 */
function countsPerLength(list: readonly SymbolFreq[], maxBitsWanted: number): Int32Array {
  const n = list.length;
  const freqAt = (i: number) => (i < n ? list[i]!.freq : NO_MORE);
  // A tree over n leaves is at most n - 1 deep.
  const maxBits = Math.min(maxBitsWanted, n - 1);
  const lastFreq = new Int32Array(maxBits + 2);
  const nextCharFreq = new Int32Array(maxBits + 2);
  const nextPairFreq = new Int32Array(maxBits + 2);
  const needed = new Int32Array(maxBits + 2);
  // leafCounts[level][j]: leaves left of the level-j ancestor of the rightmost node at `level`.
  const leafCounts = Array.from({ length: maxBits + 1 }, () => new Int32Array(maxBits + 1));

  // Every level starts as if its first two items were the two rarest leaves; level 0 is a dummy
  // whose `needed` stays 0 so level 1 never takes a package.
  for (let level = 1; level <= maxBits; level++) {
    lastFreq[level] = freqAt(1);
    nextCharFreq[level] = freqAt(2);
    nextPairFreq[level] = level === 1 ? NO_MORE : freqAt(0) + freqAt(1);
    leafCounts[level]![level] = 2;
  }
  // The top level needs 2n - 2 items in all and has two.
  needed[maxBits] = 2 * n - 4;

  let level = maxBits;
  for (;;) {
    if (nextPairFreq[level] === NO_MORE && nextCharFreq[level] === NO_MORE) {
      // This level is exhausted; make sure nothing ever comes back down to it.
      needed[level] = 0;
      nextPairFreq[level + 1] = NO_MORE;
      level++;
      continue;
    }
    const prevFreq = lastFreq[level]!;
    const counts = leafCounts[level]!;
    if (nextCharFreq[level]! < nextPairFreq[level]!) {
      const leaves = counts[level]! + 1;
      lastFreq[level] = nextCharFreq[level]!;
      counts[level] = leaves;
      nextCharFreq[level] = freqAt(leaves);
    } else {
      lastFreq[level] = nextPairFreq[level]!;
      // The package's leaf counts come from the level below, except this level's own count.
      counts.set(leafCounts[level - 1]!.subarray(0, level));
      needed[level - 1] = 2;
    }
    needed[level]!--;
    if (needed[level] === 0) {
      if (level === maxBits) break;
      nextPairFreq[level + 1] = prevFreq + lastFreq[level]!;
      level++;
    } else {
      // A package was taken from below: go down and replenish it first.
      while (needed[level - 1]! > 0) level--;
    }
  }

  const top = leafCounts[maxBits]!;
  if (top[maxBits] !== n)
    throw new BootforgeError("internal", "deflate: Huffman construction left symbols without a code");
  const perLength = new Int32Array(maxBits + 1);
  for (let lvl = maxBits, bits = 1; lvl > 0; lvl--, bits++) perLength[bits] = top[lvl]! - top[lvl - 1]!;
  return perLength;
}

/**
 * The Huffman code Go's `huffmanEncoder.generate` makes for these symbol frequencies, no code
 * longer than `maxBits`. One or two used symbols get one-bit codes in symbol order.
 */
export function generateHuffmanCode(freq: ArrayLike<number>, maxBits: number): HuffmanCode {
  const lengths = new Uint8Array(freq.length);
  const codes = new Uint16Array(freq.length);
  const list: SymbolFreq[] = [];
  for (let symbol = 0; symbol < freq.length; symbol++) {
    const f = freq[symbol]!;
    if (f !== 0) list.push({ symbol, freq: f });
  }
  if (list.length <= 2) {
    list.forEach(({ symbol }, i) => {
      lengths[symbol] = 1;
      codes[symbol] = i;
    });
    return { lengths, codes };
  }
  list.sort((a, b) => a.freq - b.freq || a.symbol - b.symbol);
  const perLength = countsPerLength(list, maxBits);

  // Canonical assignment: the most frequent symbols (end of the list) take the shortest lengths;
  // within a length, codes rise with the symbol value.
  let code = 0;
  let end = list.length;
  for (let bits = 0; bits < perLength.length; bits++) {
    code <<= 1;
    const count = perLength[bits]!;
    if (bits === 0 || count === 0) continue;
    const chunk = list.slice(end - count, end).sort((a, b) => a.symbol - b.symbol);
    for (const { symbol } of chunk) {
      lengths[symbol] = bits;
      codes[symbol] = reverseBits(code, bits);
      code++;
    }
    end -= count;
  }
  return { lengths, codes };
}

/** Total bits for these symbol frequencies under `code`. */
export function encodedBits(code: HuffmanCode, freq: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < freq.length; i++) total += freq[i]! * (code.lengths[i] ?? 0);
  return total;
}

function fixedCode(lengthOf: (symbol: number) => number, count: number): HuffmanCode {
  const lengths = new Uint8Array(count);
  for (let s = 0; s < count; s++) lengths[s] = lengthOf(s);
  // Canonical codes from the lengths, per RFC 1951 3.2.2.
  const perLength = new Int32Array(16);
  for (const len of lengths) perLength[len]!++;
  const next = new Int32Array(16);
  for (let bits = 1, code = 0; bits < 16; bits++) {
    code = (code + perLength[bits - 1]!) << 1;
    next[bits] = code;
  }
  const codes = new Uint16Array(count);
  for (let s = 0; s < count; s++) codes[s] = reverseBits(next[lengths[s]!]!++, lengths[s]!);
  return { lengths, codes };
}

// The fixed code is defined over 288 symbols; the unusable 286 and 287 still take two 8-bit
// codes, which shifts every 9-bit code, so build all 288 and keep the usable 286.
const FIXED_288 = fixedCode((s) => (s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8), 288);

/** The fixed literal/length code of RFC 1951 3.2.6 (the 286 usable symbols). */
export const FIXED_LITERAL_CODE: HuffmanCode = {
  lengths: FIXED_288.lengths.slice(0, LITERAL_COUNT),
  codes: FIXED_288.codes.slice(0, LITERAL_COUNT),
};

/** The fixed distance code: five bits each. */
export const FIXED_OFFSET_CODE: HuffmanCode = fixedCode(() => 5, OFFSET_CODE_COUNT);

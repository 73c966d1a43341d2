/**
 * DEFLATE block encoding with Go's `huffmanBitWriter` choices: per block it prices fixed, dynamic
 * and stored encodings the way Go does (including its quirks) and writes the cheapest.
 */
import { BitWriter } from "./bit-writer.js";
import {
  encodedBits,
  FIXED_LITERAL_CODE,
  FIXED_OFFSET_CODE,
  generateHuffmanCode,
  type HuffmanCode,
} from "./huffman-code.js";
import {
  END_BLOCK,
  LENGTH_BASE,
  LENGTH_CODES_START,
  LENGTH_EXTRA_BITS,
  lengthCode,
  LITERAL_COUNT,
  MATCH_FLAG,
  OFFSET_BASE,
  OFFSET_CODE_COUNT,
  OFFSET_EXTRA_BITS,
  offsetCode,
  tokenLength,
  tokenOffset,
} from "./tokens.js";

/** Largest stored block payload. */
export const MAX_STORED_BLOCK = 65535;

// Order in which code-length code lengths are sent (RFC 1951 3.2.7).
const CODEGEN_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];
const CODEGEN_COUNT = 19;

// The distance code used with literal-only blocks: a single one-bit code for distance symbol 0.
const HUFF_ONLY_OFFSET_CODE = generateHuffmanCode(
  [1, ...new Array<number>(OFFSET_CODE_COUNT - 1).fill(0)],
  15,
);

/** Run-length encoded code lengths of a dynamic block header, with their code. */
interface Codegen {
  /** Symbols 0–18, each of 16/17/18 followed by its repeat-count operand. */
  readonly stream: number[];
  readonly freq: Int32Array;
  readonly code: HuffmanCode;
}

/** Writes DEFLATE blocks into a bit stream. */
export class BlockWriter {
  readonly out = new BitWriter();
  // Go keeps these between blocks; writeBlockHuff relies on it (it only resets literals).
  private readonly literalFreq = new Int32Array(LITERAL_COUNT);
  private readonly offsetFreq = new Int32Array(OFFSET_CODE_COUNT);

  /** A stored block header: 3 bits, pad to a byte, then LEN and NLEN. */
  writeStoredHeader(length: number, final: boolean): void {
    this.out.writeBits(final ? 1 : 0, 3);
    this.out.alignToByte();
    this.out.writeBits(length, 16);
    this.out.writeBits(~length & 0xffff, 16);
  }

  /** A stored block of `data` (at most 65535 bytes). */
  writeStored(data: Uint8Array, final: boolean): void {
    this.writeStoredHeader(data.length, final);
    this.out.writeBytes(data);
  }

  /**
   * Go's `writeBlock`: tokens (end-of-block is added here) as fixed or dynamic Huffman, or the
   * original `input` stored when that is strictly smaller; `input` null means storing is impossible.
   */
  writeBlock(tokens: readonly number[], final: boolean, input: Uint8Array | null): void {
    const all = [...tokens, END_BLOCK];
    const { numLiterals, numOffsets, literalCode, offsetCode: distCode } = this.indexTokens(all);
    const storable = input !== null && input.length <= MAX_STORED_BLOCK;

    // Extra bits cost the same in fixed and dynamic blocks, so Go only counts them when a stored
    // block is a candidate.
    let extraBits = 0;
    if (storable) {
      for (let sym = LENGTH_CODES_START + 8; sym < numLiterals; sym++) {
        extraBits += this.literalFreq[sym]! * LENGTH_EXTRA_BITS[sym - LENGTH_CODES_START]!;
      }
      for (let code = 4; code < numOffsets; code++) {
        extraBits += this.offsetFreq[code]! * OFFSET_EXTRA_BITS[code]!;
      }
    }

    let litCode = FIXED_LITERAL_CODE;
    let offCode = FIXED_OFFSET_CODE;
    let size =
      3 +
      encodedBits(FIXED_LITERAL_CODE, this.literalFreq) +
      encodedBits(FIXED_OFFSET_CODE, this.offsetFreq) +
      extraBits;

    const codegen = buildCodegen(literalCode, numLiterals, distCode, numOffsets);
    const dynamic = this.dynamicSize(codegen, literalCode, distCode, extraBits);
    if (dynamic.size < size) {
      size = dynamic.size;
      litCode = literalCode;
      offCode = distCode;
    }

    if (storable && (input.length + 5) * 8 < size) {
      this.writeStored(input, final);
      return;
    }
    if (litCode === FIXED_LITERAL_CODE) {
      this.out.writeBits(final ? 3 : 2, 3);
    } else {
      this.writeDynamicHeader(codegen, numLiterals, numOffsets, dynamic.numCodegens, final);
    }
    this.writeTokens(all, litCode, offCode);
  }

  /**
   * Go's `writeBlockDynamic` (BestSpeed): tokens under a dynamic code, unless storing `input` is
   * within 1/16 of that size.
   */
  writeBlockDynamic(tokens: readonly number[], final: boolean, input: Uint8Array): void {
    const all = [...tokens, END_BLOCK];
    const { numLiterals, numOffsets, literalCode, offsetCode: distCode } = this.indexTokens(all);
    const codegen = buildCodegen(literalCode, numLiterals, distCode, numOffsets);
    const { size, numCodegens } = this.dynamicSize(codegen, literalCode, distCode, 0);
    if (input.length <= MAX_STORED_BLOCK && (input.length + 5) * 8 < size + (size >> 4)) {
      this.writeStored(input, final);
      return;
    }
    this.writeDynamicHeader(codegen, numLiterals, numOffsets, numCodegens, final);
    this.writeTokens(all, literalCode, distCode);
  }

  /**
   * Go's `writeBlockHuff`: every byte a literal under a dynamic code, unless storing is within
   * 1/16 of that size.
   */
  writeBlockHuff(input: Uint8Array, final: boolean): void {
    this.literalFreq.fill(0);
    for (const b of input) this.literalFreq[b]!++;
    this.literalFreq[END_BLOCK] = 1;
    // Go sets only slot 0 and leaves the rest stale; they are priced at 0 bits below anyway.
    this.offsetFreq[0] = 1;
    const numLiterals = END_BLOCK + 1;
    const literalCode = generateHuffmanCode(this.literalFreq, 15);

    const codegen = buildCodegen(literalCode, numLiterals, HUFF_ONLY_OFFSET_CODE, 1);
    const { size, numCodegens } = this.dynamicSize(codegen, literalCode, HUFF_ONLY_OFFSET_CODE, 0);
    if (input.length <= MAX_STORED_BLOCK && (input.length + 5) * 8 < size + (size >> 4)) {
      this.writeStored(input, final);
      return;
    }
    this.writeDynamicHeader(codegen, numLiterals, 1, numCodegens, final);
    for (const b of input) this.out.writeBits(literalCode.codes[b]!, literalCode.lengths[b]!);
    this.out.writeBits(literalCode.codes[END_BLOCK]!, literalCode.lengths[END_BLOCK]!);
  }

  /** Symbol frequencies and codes for a block's tokens, and how many symbols the header lists. */
  private indexTokens(tokens: readonly number[]) {
    const lit = this.literalFreq;
    const off = this.offsetFreq;
    lit.fill(0);
    off.fill(0);
    for (const t of tokens) {
      if (t < MATCH_FLAG) {
        lit[t]!++;
      } else {
        lit[LENGTH_CODES_START + lengthCode(tokenLength(t))]!++;
        off[offsetCode(tokenOffset(t))]!++;
      }
    }
    let numLiterals = LITERAL_COUNT;
    while (lit[numLiterals - 1] === 0) numLiterals--;
    let numOffsets = OFFSET_CODE_COUNT;
    while (numOffsets > 0 && off[numOffsets - 1] === 0) numOffsets--;
    if (numOffsets === 0) {
      // A dynamic header must describe at least one distance code; Go counts a phantom one, and
      // that phantom is also priced into the fixed/dynamic comparison.
      off[0] = 1;
      numOffsets = 1;
    }
    return {
      numLiterals,
      numOffsets,
      literalCode: generateHuffmanCode(lit, 15),
      offsetCode: generateHuffmanCode(off, 15),
    };
  }

  /** Size in bits of a dynamic block, and how many code-length code lengths its header sends. */
  private dynamicSize(codegen: Codegen, litCode: HuffmanCode, offCode: HuffmanCode, extraBits: number) {
    let numCodegens = CODEGEN_COUNT;
    while (numCodegens > 4 && codegen.freq[CODEGEN_ORDER[numCodegens - 1]!] === 0) numCodegens--;
    const header =
      3 +
      5 +
      5 +
      4 +
      3 * numCodegens +
      encodedBits(codegen.code, codegen.freq) +
      codegen.freq[16]! * 2 +
      codegen.freq[17]! * 3 +
      codegen.freq[18]! * 7;
    const size =
      header + encodedBits(litCode, this.literalFreq) + encodedBits(offCode, this.offsetFreq) + extraBits;
    return { size, numCodegens };
  }

  private writeDynamicHeader(
    codegen: Codegen,
    numLiterals: number,
    numOffsets: number,
    numCodegens: number,
    final: boolean,
  ): void {
    const out = this.out;
    out.writeBits(final ? 5 : 4, 3);
    out.writeBits(numLiterals - 257, 5);
    out.writeBits(numOffsets - 1, 5);
    out.writeBits(numCodegens - 4, 4);
    for (let i = 0; i < numCodegens; i++) out.writeBits(codegen.code.lengths[CODEGEN_ORDER[i]!]!, 3);
    const s = codegen.stream;
    for (let i = 0; i < s.length; i++) {
      const sym = s[i]!;
      out.writeBits(codegen.code.codes[sym]!, codegen.code.lengths[sym]!);
      if (sym === 16) out.writeBits(s[++i]!, 2);
      else if (sym === 17) out.writeBits(s[++i]!, 3);
      else if (sym === 18) out.writeBits(s[++i]!, 7);
    }
  }

  private writeTokens(tokens: readonly number[], litCode: HuffmanCode, offCode: HuffmanCode): void {
    const out = this.out;
    for (const t of tokens) {
      if (t < MATCH_FLAG) {
        out.writeBits(litCode.codes[t]!, litCode.lengths[t]!);
        continue;
      }
      const xlength = tokenLength(t);
      const lc = lengthCode(xlength);
      const sym = LENGTH_CODES_START + lc;
      out.writeBits(litCode.codes[sym]!, litCode.lengths[sym]!);
      if (LENGTH_EXTRA_BITS[lc]! > 0) out.writeBits(xlength - LENGTH_BASE[lc]!, LENGTH_EXTRA_BITS[lc]!);
      const xoffset = tokenOffset(t);
      const oc = offsetCode(xoffset);
      out.writeBits(offCode.codes[oc]!, offCode.lengths[oc]!);
      if (OFFSET_EXTRA_BITS[oc]! > 0) out.writeBits(xoffset - OFFSET_BASE[oc]!, OFFSET_EXTRA_BITS[oc]!);
    }
  }
}

/**
 * Go's `generateCodegen`: the literal and distance code lengths as one sequence, run-length coded
 * greedily (a nonzero length is sent once, then 16 for runs of 3–6; zeros use 18 for 11–138 and
 * 17 for 3–10), plus the code-length code (at most 7 bits) for the result.
 */
function buildCodegen(
  litCode: HuffmanCode,
  numLiterals: number,
  offCode: HuffmanCode,
  numOffsets: number,
): Codegen {
  const lengths = [...litCode.lengths.subarray(0, numLiterals), ...offCode.lengths.subarray(0, numOffsets)];
  const stream: number[] = [];
  const freq = new Int32Array(CODEGEN_COUNT);
  const emit = (sym: number, operand?: number) => {
    stream.push(sym);
    if (operand !== undefined) stream.push(operand);
    freq[sym]!++;
  };
  let i = 0;
  while (i < lengths.length) {
    const size = lengths[i]!;
    let run = 1;
    while (i + run < lengths.length && lengths[i + run] === size) run++;
    i += run;
    if (size !== 0) {
      emit(size);
      run--;
      while (run >= 3) {
        const n = Math.min(6, run);
        emit(16, n - 3);
        run -= n;
      }
    } else {
      while (run >= 11) {
        const n = Math.min(138, run);
        emit(18, n - 11);
        run -= n;
      }
      if (run >= 3) {
        emit(17, run - 3);
        run = 0;
      }
    }
    for (; run > 0; run--) emit(size);
  }
  return { stream, freq, code: generateHuffmanCode(freq, 7) };
}

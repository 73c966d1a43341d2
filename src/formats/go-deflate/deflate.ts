/**
 * Raw DEFLATE (RFC 1951) byte-identical to Go's `compress/flate` writer (checked against Go 1.19;
 * the encoder is unchanged through Go 1.26, Go 1.27 replaced it) for one `Write` of the whole input followed by `Close`: the same hash chains, lazy matching,
 * block splits and block-type choices, so the bytes match, not just the decompressed data.
 */
import { invalidInput } from "../../errors/index.js";
import { bestSpeed } from "./best-speed.js";
import { BlockWriter, MAX_STORED_BLOCK } from "./block-writer.js";
import { matchToken } from "./tokens.js";

/** Go's `flate.BestCompression`, the level Talos uses for META values. */
export const BEST_COMPRESSION = 9;
/** Go's `flate.DefaultCompression` (level 6). */
export const DEFAULT_COMPRESSION = -1;

const WINDOW_SIZE = 1 << 15;
const WINDOW_MASK = WINDOW_SIZE - 1;
// Go never emits a 3-byte match, although DEFLATE allows them.
const MIN_MATCH = 4;
const MAX_MATCH = 258;
// Below this much lookahead the compressor waits for more input (or the final flush).
const MIN_LOOKAHEAD = MIN_MATCH + MAX_MATCH;
const MAX_BLOCK_TOKENS = 1 << 14;
const HASH_BITS = 17;
const HASH_SIZE = 1 << HASH_BITS;
const HASH_MUL = 0x1e35a7bd;
// Hash table entries are positions plus this offset; rebased before they could overflow.
const MAX_HASH_OFFSET = 1 << 24;
const SKIP_NEVER = 0x7fffffff;
const NOT_STORABLE = 0x7fffffff;

/** Go's per-level tuning: good/lazy/nice lengths, chain budget, and the non-lazy skip length. */
interface LevelParams {
  readonly good: number;
  readonly lazy: number;
  readonly nice: number;
  readonly chain: number;
  readonly fastSkipHashing: number;
}

const LEVELS: Record<number, LevelParams> = {
  2: { good: 4, lazy: 0, nice: 16, chain: 8, fastSkipHashing: 5 },
  3: { good: 4, lazy: 0, nice: 32, chain: 32, fastSkipHashing: 6 },
  4: { good: 4, lazy: 4, nice: 16, chain: 16, fastSkipHashing: SKIP_NEVER },
  5: { good: 8, lazy: 16, nice: 32, chain: 32, fastSkipHashing: SKIP_NEVER },
  6: { good: 8, lazy: 16, nice: 128, chain: 128, fastSkipHashing: SKIP_NEVER },
  7: { good: 8, lazy: 32, nice: 128, chain: 256, fastSkipHashing: SKIP_NEVER },
  8: { good: 32, lazy: 128, nice: 258, chain: 1024, fastSkipHashing: SKIP_NEVER },
  9: { good: 32, lazy: 258, nice: 258, chain: 4096, fastSkipHashing: SKIP_NEVER },
};

/** Go's `hash4`: the first four bytes at `i`, big-endian, multiplicatively hashed to 17 bits. */
function hash4(w: Uint8Array, i: number): number {
  const v = (w[i]! << 24) | (w[i + 1]! << 16) | (w[i + 2]! << 8) | w[i + 3]!;
  return Math.imul(v, HASH_MUL) >>> (32 - HASH_BITS);
}

/** The LZ77 + block state of Go's `compressor` for levels 2–9. */
class LazyCompressor {
  private readonly window = new Uint8Array(2 * WINDOW_SIZE);
  private windowEnd = 0;
  private index = 0;
  // Window index where the queued tokens start; NOT_STORABLE once those bytes were shifted out.
  private blockStart = 0;
  private byteAvailable = false;
  private tokens: number[] = [];
  private length = MIN_MATCH - 1;
  private offset = 0;
  private maxInsertIndex = 0;
  private chainHead = -1;
  private hashOffset = 1;
  private readonly hashHead = new Uint32Array(HASH_SIZE);
  private readonly hashPrev = new Uint32Array(WINDOW_SIZE);
  private sync = false;

  constructor(
    private readonly p: LevelParams,
    private readonly w: BlockWriter,
  ) {}

  /** Go's `compressor.write` followed by `close`, for the whole input at once. */
  run(input: Uint8Array): void {
    let rest = input;
    while (rest.length > 0) {
      this.step();
      rest = rest.subarray(this.fill(rest));
    }
    this.sync = true;
    this.step();
    this.w.writeStoredHeader(0, true);
  }

  /** Go's `fillDeflate`: slide the window by 32 KiB when the cursor is near its end, then copy. */
  private fill(b: Uint8Array): number {
    if (this.index >= 2 * WINDOW_SIZE - MIN_LOOKAHEAD) {
      this.window.copyWithin(0, WINDOW_SIZE, 2 * WINDOW_SIZE);
      this.index -= WINDOW_SIZE;
      this.windowEnd -= WINDOW_SIZE;
      this.blockStart = this.blockStart >= WINDOW_SIZE ? this.blockStart - WINDOW_SIZE : NOT_STORABLE;
      this.hashOffset += WINDOW_SIZE;
      if (this.hashOffset > MAX_HASH_OFFSET) this.rebaseHashes();
    }
    const n = Math.min(b.length, this.window.length - this.windowEnd);
    this.window.set(b.subarray(0, n), this.windowEnd);
    this.windowEnd += n;
    return n;
  }

  private rebaseHashes(): void {
    const delta = this.hashOffset - 1;
    this.hashOffset -= delta;
    this.chainHead -= delta;
    for (const table of [this.hashPrev, this.hashHead]) {
      for (let i = 0; i < table.length; i++) table[i] = table[i]! > delta ? table[i]! - delta : 0;
    }
  }

  /** Flushes queued tokens as one block ending at window index `end`. */
  private writeBlock(end: number): void {
    if (end > 0) {
      const input = this.blockStart <= end ? this.window.subarray(this.blockStart, end) : null;
      this.blockStart = end;
      this.w.writeBlock(this.tokens, false, input);
    }
    this.tokens = [];
  }

  private insertHash(i: number): void {
    const h = hash4(this.window, i);
    this.hashPrev[i & WINDOW_MASK] = this.hashHead[h]!;
    this.hashHead[h] = i + this.hashOffset;
  }

  /**
   * Go's `findMatch`: walk the hash chain from `head` for a match longer than 3 bytes at `pos`,
   * keeping the first longest; 4-byte matches only count within 4096 bytes.
   */
  private findMatch(pos: number, head: number, lookahead: number): { length: number; offset: number } | null {
    const w = this.window;
    const maxLen = Math.min(MAX_MATCH, lookahead);
    const nice = Math.min(this.p.nice, maxLen);
    let length = MIN_MATCH - 1;
    let tries = this.p.chain;
    if (length >= this.p.good) tries >>= 2;
    let found: { length: number; offset: number } | null = null;
    let wEnd = w[pos + length]!;
    const minIndex = pos - WINDOW_SIZE;
    for (let i = head; tries > 0; tries--) {
      // Cheap reject: a longer match must at least agree on the byte just past the current best.
      if (w[i + length] === wEnd) {
        let n = 0;
        while (n < maxLen && w[i + n] === w[pos + n]) n++;
        if (n > length && (n > MIN_MATCH || pos - i <= 4096)) {
          length = n;
          found = { length: n, offset: pos - i };
          if (n >= nice) break;
          wEnd = w[pos + n]!;
        }
      }
      // The slot for minIndex has already been reused by a newer position.
      if (i === minIndex) break;
      i = this.hashPrev[i & WINDOW_MASK]! - this.hashOffset;
      if (i < minIndex || i < 0) break;
    }
    return found;
  }

  /** Go's `deflate` step: tokenise as far as the lookahead allows (all of it when flushing). */
  private step(): void {
    if (this.windowEnd - this.index < MIN_LOOKAHEAD && !this.sync) return;
    const { fastSkipHashing, lazy } = this.p;
    const lazyMode = fastSkipHashing === SKIP_NEVER;
    const w = this.window;
    this.maxInsertIndex = this.windowEnd - (MIN_MATCH - 1);

    for (;;) {
      const lookahead = this.windowEnd - this.index;
      if (lookahead < MIN_LOOKAHEAD) {
        if (!this.sync) break;
        if (lookahead === 0) {
          if (this.byteAvailable) {
            this.tokens.push(w[this.index - 1]!);
            this.byteAvailable = false;
          }
          if (this.tokens.length > 0) this.writeBlock(this.index);
          break;
        }
      }
      if (this.index < this.maxInsertIndex) {
        const h = hash4(w, this.index);
        this.chainHead = this.hashHead[h]!;
        this.hashPrev[this.index & WINDOW_MASK] = this.chainHead;
        this.hashHead[h] = this.index + this.hashOffset;
      }
      const prevLength = this.length;
      const prevOffset = this.offset;
      this.length = MIN_MATCH - 1;
      this.offset = 0;
      const minIndex = Math.max(0, this.index - WINDOW_SIZE);
      const head = this.chainHead - this.hashOffset;

      const search = lazyMode ? lookahead > prevLength && prevLength < lazy : lookahead > MIN_MATCH - 1;
      if (head >= minIndex && search) {
        const m = this.findMatch(this.index, head, lookahead);
        if (m) {
          this.length = m.length;
          this.offset = m.offset;
        }
      }

      const emitMatch = lazyMode
        ? prevLength >= MIN_MATCH && this.length <= prevLength
        : this.length >= MIN_MATCH;
      if (emitMatch) {
        // Lazy levels emit the previous position's match once this one is no better.
        this.tokens.push(
          lazyMode ? matchToken(prevLength, prevOffset) : matchToken(this.length, this.offset),
        );
        if (this.length <= fastSkipHashing) {
          // Hash every position the match covers (index itself, and for lazy index-1, already are).
          const newIndex = lazyMode ? this.index + prevLength - 1 : this.index + this.length;
          let i = this.index + 1;
          for (; i < newIndex; i++) if (i < this.maxInsertIndex) this.insertHash(i);
          this.index = i;
          if (lazyMode) {
            this.byteAvailable = false;
            this.length = MIN_MATCH - 1;
          }
        } else {
          // Long matches on the fast levels skip hashing what they cover.
          this.index += this.length;
        }
        if (this.tokens.length === MAX_BLOCK_TOKENS) this.writeBlock(this.index);
      } else {
        if (!lazyMode || this.byteAvailable) {
          const i = lazyMode ? this.index - 1 : this.index;
          this.tokens.push(w[i]!);
          if (this.tokens.length === MAX_BLOCK_TOKENS) this.writeBlock(i + 1);
        }
        this.index++;
        if (lazyMode) this.byteAvailable = true;
      }
    }
  }
}

/** Go's `NoCompression` and `HuffmanOnly`: 65535-byte chunks, stored or literal-only. */
function chunked(input: Uint8Array, w: BlockWriter, huffman: boolean): void {
  for (let start = 0; start < input.length; start += MAX_STORED_BLOCK) {
    const chunk = input.subarray(start, start + MAX_STORED_BLOCK);
    if (huffman) w.writeBlockHuff(chunk, false);
    else w.writeStored(chunk, false);
  }
  w.writeStoredHeader(0, true);
}

/**
 * Raw DEFLATE of `input` exactly as Go's `flate.NewWriter(w, level)`, one `Write`, `Close` would
 * produce it (including Go's trailing empty final stored block).
 */
export function goDeflate(input: Uint8Array, level: number = DEFAULT_COMPRESSION): Uint8Array {
  const w = new BlockWriter();
  if (level === 0 || level === -2) {
    chunked(input, w, level === -2);
  } else if (level === 1) {
    bestSpeed(input, w);
  } else {
    const params = LEVELS[level === DEFAULT_COMPRESSION ? 6 : level];
    if (!Number.isInteger(level) || params === undefined) {
      throw invalidInput(`invalid flate compression level ${level}: want an integer from -2 to 9`);
    }
    new LazyCompressor(params, w).run(input);
  }
  return w.out.finish();
}

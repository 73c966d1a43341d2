/**
 * Go's level 1 (`BestSpeed`, `deflatefast.go`): a Snappy-style single-probe hash matcher over
 * 65535-byte blocks that may reach back into the previous block, with Go's per-block choice of
 * literal-only, dynamic or stored encoding.
 */
import { MAX_STORED_BLOCK, type BlockWriter } from "./block-writer.js";
import { matchToken } from "./tokens.js";

const TABLE_BITS = 14;
const TABLE_SIZE = 1 << TABLE_BITS;
const MAX_OFFSET = 1 << 15;
const MAX_MATCH = 258;
// The matcher stops this close to the block end so its 8-byte loads stay inside the block.
const INPUT_MARGIN = 16 - 1;
const MIN_NON_LITERAL_BLOCK = 1 + 1 + INPUT_MARGIN;
// Positions are kept relative to `cur`; renumber well before int32 overflow, as Go does.
const BUFFER_RESET = 0x7fffffff - MAX_STORED_BLOCK * 2;

/** Little-endian 32-bit load (Go's `load32`). */
function load32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function hash(u: number): number {
  return Math.imul(u, 0x1e35a7bd) >>> (32 - TABLE_BITS);
}

/** Go's `deflateFast`: the hash table (position + the 4 bytes seen there) and the previous block. */
class FastMatcher {
  private readonly tableOffset = new Int32Array(TABLE_SIZE);
  private readonly tableVal = new Uint32Array(TABLE_SIZE);
  private prev = new Uint8Array(0);
  private cur = MAX_STORED_BLOCK;

  /** Tokens for one block. */
  encode(src: Uint8Array): number[] {
    if (this.cur >= BUFFER_RESET) this.shiftOffsets();
    const dst: number[] = [];
    const literals = (from: number, to: number) => {
      for (let i = from; i < to; i++) dst.push(src[i]!);
    };
    if (src.length < MIN_NON_LITERAL_BLOCK) {
      // Too short to search; also make every table entry too far away for the next block.
      this.cur += MAX_STORED_BLOCK;
      this.prev = new Uint8Array(0);
      literals(0, src.length);
      return dst;
    }
    const sLimit = src.length - INPUT_MARGIN;
    let nextEmit = 0;
    let s = 0;
    let cv = load32(src, s);
    let nextHash = hash(cv);

    outer: for (;;) {
      // Probe with a stride that grows the longer nothing matches (1 byte for the first 32).
      let skip = 32;
      let nextS = s;
      let candidate: number;
      for (;;) {
        s = nextS;
        const step = skip >> 5;
        nextS = s + step;
        skip += step;
        if (nextS > sLimit) break outer;
        candidate = this.tableOffset[nextHash]!;
        const candidateVal = this.tableVal[nextHash]!;
        const now = load32(src, nextS);
        this.tableOffset[nextHash] = s + this.cur;
        this.tableVal[nextHash] = cv;
        nextHash = hash(now);
        if (s - (candidate - this.cur) <= MAX_OFFSET && cv === candidateVal) break;
        cv = now;
      }
      literals(nextEmit, s);

      // Emit matches back to back while the position right after one also matches.
      for (;;) {
        s += 4;
        const t = candidate - this.cur + 4;
        const l = this.matchLen(s, t, src);
        dst.push(matchToken(l + 4, s - t));
        s += l;
        nextEmit = s;
        if (s >= sLimit) break outer;
        const before = load32(src, s - 1);
        const prevHash = hash(before);
        this.tableOffset[prevHash] = this.cur + s - 1;
        this.tableVal[prevHash] = before;
        const at = load32(src, s);
        const currHash = hash(at);
        candidate = this.tableOffset[currHash]!;
        const candidateVal = this.tableVal[currHash]!;
        this.tableOffset[currHash] = this.cur + s;
        this.tableVal[currHash] = at;
        if (s - (candidate - this.cur) > MAX_OFFSET || at !== candidateVal) {
          cv = load32(src, s + 1);
          nextHash = hash(cv);
          s++;
          break;
        }
      }
    }
    if (nextEmit < src.length) literals(nextEmit, src.length);
    this.cur += src.length;
    this.prev = src.slice();
    return dst;
  }

  /**
   * Bytes matching after the first 4, capped at 258 - 4; a negative `t` starts in the previous
   * block and may run on into the start of this one.
   */
  private matchLen(s: number, t: number, src: Uint8Array): number {
    const end = Math.min(s + MAX_MATCH - 4, src.length);
    if (t >= 0) {
      let n = 0;
      while (s + n < end && src[s + n] === src[t + n]) n++;
      return n;
    }
    const tp = this.prev.length + t;
    if (tp < 0) return 0;
    const inPrev = Math.min(end - s, this.prev.length - tp);
    let n = 0;
    while (n < inPrev && src[s + n] === this.prev[tp + n]) n++;
    if (n < inPrev || s + n === end) return n;
    let k = 0;
    while (s + n + k < end && src[s + n + k] === src[k]) k++;
    return n + k;
  }

  /** Go's `reset` between blocks that were not searched: forget the previous block. */
  reset(): void {
    this.prev = new Uint8Array(0);
    this.cur += MAX_OFFSET;
    if (this.cur >= BUFFER_RESET) this.shiftOffsets();
  }

  private shiftOffsets(): void {
    if (this.prev.length === 0) {
      this.tableOffset.fill(0);
      this.tableVal.fill(0);
    } else {
      for (let i = 0; i < TABLE_SIZE; i++) {
        this.tableOffset[i] = Math.max(0, this.tableOffset[i]! - this.cur + MAX_OFFSET + 1);
      }
    }
    this.cur = MAX_OFFSET + 1;
  }
}

/** Go's `encSpeed` over the whole input (one `Write`, then `Close`), ending with the final empty stored block. */
export function bestSpeed(input: Uint8Array, w: BlockWriter): void {
  const matcher = new FastMatcher();
  for (let start = 0; start < input.length; start += MAX_STORED_BLOCK) {
    const block = input.subarray(start, start + MAX_STORED_BLOCK);
    // Only the last block can be short; Go special-cases short final blocks.
    if (block.length < 128) {
      if (block.length <= 16) w.writeStored(block, false);
      else w.writeBlockHuff(block, false);
      matcher.reset();
      continue;
    }
    const tokens = matcher.encode(block);
    // Matching removed less than 1/16 of the bytes: literal-only coding is as good and cheaper.
    if (tokens.length > block.length - (block.length >> 4)) w.writeBlockHuff(block, false);
    else w.writeBlockDynamic(tokens, false, block);
  }
  w.writeStoredHeader(0, true);
}

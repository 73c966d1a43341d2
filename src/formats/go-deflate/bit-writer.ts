/** An LSB-first bit stream into a growing byte buffer, as DEFLATE packs its bits. */
import { BootforgeError } from "../../errors/index.js";

/** Collects DEFLATE output bits and bytes. */
export class BitWriter {
  private buf = new Uint8Array(1024);
  private used = 0;
  // Pending bits, always fewer than 8 between calls, so `bits | value << nbits` stays in 32 bits.
  private bits = 0;
  private nbits = 0;

  /** Appends the low `count` (≤ 24) bits of `value`. */
  writeBits(value: number, count: number): void {
    this.bits |= value << this.nbits;
    this.nbits += count;
    while (this.nbits >= 8) {
      this.pushByte(this.bits & 0xff);
      this.bits >>>= 8;
      this.nbits -= 8;
    }
  }

  /** Pads with zero bits to the next byte boundary. */
  alignToByte(): void {
    if (this.nbits > 0) this.writeBits(0, 8 - this.nbits);
  }

  /** Appends whole bytes; the stream must be byte-aligned. */
  writeBytes(bytes: Uint8Array): void {
    if (this.nbits !== 0) throw new BootforgeError("internal", "deflate: stored bytes written mid-byte");
    this.reserve(bytes.length);
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  /** The bytes written so far, padding a partial last byte with zero bits. */
  finish(): Uint8Array {
    this.alignToByte();
    return this.buf.slice(0, this.used);
  }

  private pushByte(b: number): void {
    this.reserve(1);
    this.buf[this.used++] = b;
  }

  private reserve(n: number): void {
    if (this.used + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.used + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.used));
    this.buf = next;
  }
}

/**
 * The legacy syslinux ADV in the last 1024 bytes of the META partition (two 512-byte copies,
 * little-endian: head magic, checksum, `tag u8, len u8, value` records, tail magic). Talos still
 * reads tags from it when its own ADV lacks them; the imager writes the region as zeros. The
 * operations mirror upstream byte for byte, including its `DeleteTag` quirk (see there).
 */
import { invalidInput } from "../../errors/index.js";

/** Bytes of one copy. */
export const SYSLINUX_ADV_COPY_SIZE = 512;
/** Bytes of both copies, the region at the end of the partition. */
export const SYSLINUX_ADV_SIZE = 2 * SYSLINUX_ADV_COPY_SIZE;

const HEAD_MAGIC = 0x5a2d2fa5;
const TOTAL_MAGIC = 0xa3041767;
const TAIL_MAGIC = 0xdd28bf64;
// Records must leave room for the tail and one more 2-byte header.
const RECORD_LIMIT = SYSLINUX_ADV_COPY_SIZE - 4 - 2;

/** A syslinux ADV held in memory (1024 bytes); mutating operations refresh checksums and the second copy. */
export class SyslinuxAdv {
  private readonly buf: Uint8Array;

  private constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  /** An all-zero ADV, as a fresh META partition has and the imager writes. */
  static empty(): SyslinuxAdv {
    return new SyslinuxAdv(new Uint8Array(SYSLINUX_ADV_SIZE));
  }

  /** Takes a copy of the last 1024 bytes of `bytes`; nothing is validated, as upstream. */
  static fromBytes(bytes: Uint8Array): SyslinuxAdv {
    if (bytes.length < SYSLINUX_ADV_SIZE) {
      throw invalidInput(`syslinux ADV needs ${SYSLINUX_ADV_SIZE} bytes, got ${bytes.length}`);
    }
    return new SyslinuxAdv(bytes.slice(bytes.length - SYSLINUX_ADV_SIZE));
  }

  /** The raw value of `tag` from the first copy, or undefined. */
  readTag(tag: number): Uint8Array | undefined {
    let i = 8;
    while (i < RECORD_LIMIT) {
      const t = this.buf[i]!;
      const size = this.buf[i + 1]!;
      if (t === 0) break;
      if (t === tag) return this.buf.slice(i + 2, i + 2 + size);
      i += 2 + size;
    }
    return undefined;
  }

  /** Tags of the first copy in storage order (a tag may repeat). */
  listTags(): number[] {
    const tags: number[] = [];
    let i = 8;
    while (i < RECORD_LIMIT) {
      const t = this.buf[i]!;
      if (t === 0) break;
      tags.push(t);
      i += 2 + this.buf[i + 1]!;
    }
    return tags;
  }

  /** Replaces `tag` with `value` (at most 255 bytes) at the end of the records; false when it does not fit. */
  setTag(tag: number, value: Uint8Array): boolean {
    if (value.length > 255) return false;
    this.deleteTag(tag);
    let i = 8;
    while (i < RECORD_LIMIT) {
      const t = this.buf[i]!;
      if (t !== 0) {
        i += 2 + this.buf[i + 1]!;
        continue;
      }
      if (i + 2 + value.length > RECORD_LIMIT) return false;
      this.buf[i] = tag;
      this.buf[i + 1] = value.length;
      this.buf.set(value, i + 2);
      this.cleanup();
      return true;
    }
    return false;
  }

  /**
   * Removes the first record of `tag`. Upstream takes the end of the data to shift from the byte
   * at offset 508 (the tail magic's low byte, 0x64, once written) and zeroes `[i, 2 + shifted)`;
   * both quirks are kept so results match upstream's bytes. Where upstream would panic (that
   * byte lies before the record's end), an invalid-input error is thrown instead.
   */
  deleteTag(tag: number): boolean {
    let i = 8;
    while (i < RECORD_LIMIT) {
      const t = this.buf[i]!;
      const size = this.buf[i + 1]!;
      if (t === 0) break;
      if (t !== tag) {
        i += 2 + size;
        continue;
      }
      const start = i + 2 + size;
      const end = this.buf[SYSLINUX_ADV_COPY_SIZE - 4]!;
      if (start > end) {
        throw invalidInput(
          `corrupt syslinux ADV: record of tag ${tag} ends at ${start}, past the data end ${end}`,
        );
      }
      const data = this.buf.slice(start, end);
      this.buf.fill(0, i, Math.max(i, 2 + data.length));
      this.buf.set(data, i);
      this.cleanup();
      return true;
    }
    return false;
  }

  /** Rewrites head magic, checksum and tail magic of the first copy and copies it over the second. */
  cleanup(): void {
    const view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    view.setUint32(0, HEAD_MAGIC, true);
    let sum = TOTAL_MAGIC;
    for (let i = 8; i < SYSLINUX_ADV_COPY_SIZE - 4; i += 4) sum = (sum - view.getUint32(i, true)) >>> 0;
    view.setUint32(4, sum, true);
    view.setUint32(SYSLINUX_ADV_COPY_SIZE - 4, TAIL_MAGIC, true);
    this.buf.copyWithin(SYSLINUX_ADV_COPY_SIZE, 0, SYSLINUX_ADV_COPY_SIZE);
  }

  /** A copy of the 1024 bytes. */
  bytes(): Uint8Array {
    return this.buf.slice();
  }
}

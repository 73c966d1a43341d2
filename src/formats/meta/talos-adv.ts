/**
 * The Talos ADV (go-adv `adv/talos`), the store at the start of the META partition: two identical
 * 256 KiB copies, each big-endian `magic1, {tag u32, size u32, value}…, zero padding,
 * sha256 (of the copy with this field zeroed), magic2`. Talos reads the second copy when the first
 * fails its magics or checksum, so one damaged copy loses nothing.
 */
import { createHash } from "node:crypto";
import { invalidInput } from "../../errors/index.js";

/** Bytes in one copy. */
export const TALOS_ADV_LENGTH = 256 * 1024;
/** Bytes of both copies together. */
export const TALOS_ADV_SIZE = 2 * TALOS_ADV_LENGTH;
/** Bytes available for records in one copy (magic1, checksum and magic2 take 40). */
export const TALOS_ADV_DATA_LENGTH = TALOS_ADV_LENGTH - 40;

const MAGIC1 = 0x5a4b3c2d;
const MAGIC2 = 0xa5b4c3d2;
const CHECKSUM_OFFSET = TALOS_ADV_LENGTH - 36;

/** Tags 0–255 mapped to their raw values. */
export type AdvTags = ReadonlyMap<number, Uint8Array>;

/** What {@link decodeTalosAdv} found: the tags and which copy they came from. */
export interface TalosAdvContents {
  /** The tags of the first valid copy; empty when neither copy is valid. */
  readonly tags: Map<number, Uint8Array>;
  /** The copy the tags were read from, or `none` when both are invalid (e.g. a fresh, all-zero partition). */
  readonly copy: "first" | "second" | "none";
  /** Why a copy was rejected, one message per rejected copy. */
  readonly problems: string[];
}

function checksum(copy: Uint8Array): Uint8Array {
  const zeroed = new Uint8Array(copy);
  zeroed.fill(0, CHECKSUM_OFFSET, CHECKSUM_OFFSET + 32);
  return createHash("sha256").update(zeroed).digest();
}

/**
 * One 256 KiB copy. Tags are written in ascending order (upstream iterates a Go map, so its order
 * is random; sorting makes the bytes reproducible and is read back identically).
 */
export function encodeTalosAdvCopy(tags: AdvTags): Uint8Array {
  const buf = new Uint8Array(TALOS_ADV_LENGTH);
  const view = new DataView(buf.buffer);
  view.setUint32(0, MAGIC1);
  view.setUint32(TALOS_ADV_LENGTH - 4, MAGIC2);
  let used = 0;
  for (const [tag, value] of [...tags].sort(([a], [b]) => a - b)) {
    if (!Number.isInteger(tag) || tag < 0 || tag > 255) {
      throw invalidInput(`invalid META tag ${String(tag)}: expected an integer from 0 to 255`);
    }
    if (tag === 0) throw invalidInput("invalid META tag 0: it marks the end of the records");
    if (used + 8 + value.length > TALOS_ADV_DATA_LENGTH) {
      const total = [...tags.values()].reduce((n, v) => n + 8 + v.length, 0);
      throw invalidInput(
        `META values do not fit: ${total} bytes of records, ${TALOS_ADV_DATA_LENGTH} available`,
      );
    }
    const at = 4 + used;
    view.setUint32(at, tag);
    view.setUint32(at + 4, value.length);
    buf.set(value, at + 8);
    used += 8 + value.length;
  }
  buf.set(checksum(buf), CHECKSUM_OFFSET);
  return buf;
}

/** Both copies, as Talos writes them at offset 0 of the META partition. */
export function encodeTalosAdv(tags: AdvTags): Uint8Array {
  const copy = encodeTalosAdvCopy(tags);
  const out = new Uint8Array(TALOS_ADV_SIZE);
  out.set(copy, 0);
  out.set(copy, TALOS_ADV_LENGTH);
  return out;
}

/** Reads one copy (exactly 256 KiB); throws an invalid-input error saying what is wrong with it. */
export function decodeTalosAdvCopy(copy: Uint8Array): Map<number, Uint8Array> {
  if (copy.length !== TALOS_ADV_LENGTH) {
    throw invalidInput(`Talos ADV copy is ${copy.length} bytes, expected ${TALOS_ADV_LENGTH}`);
  }
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const hex = (n: number) => n.toString(16);
  const m1 = view.getUint32(0);
  if (m1 !== MAGIC1) throw invalidInput(`adv: unexpected magic ${hex(m1)}, expecting ${hex(MAGIC1)}`);
  const m2 = view.getUint32(TALOS_ADV_LENGTH - 4);
  if (m2 !== MAGIC2) throw invalidInput(`adv: unexpected magic ${hex(m2)}, expecting ${hex(MAGIC2)}`);
  const stored = copy.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + 32);
  const actual = checksum(copy);
  if (!Buffer.from(stored).equals(actual)) {
    throw invalidInput(
      `adv: checksum mismatch: ${Buffer.from(stored).toString("hex")}, expecting ${Buffer.from(actual).toString("hex")}`,
    );
  }
  const tags = new Map<number, Uint8Array>();
  let at = 4;
  while (CHECKSUM_OFFSET - at >= 8) {
    const tag = view.getUint32(at);
    if (tag === 0) break;
    const size = view.getUint32(at + 4);
    if (CHECKSUM_OFFSET - at < size + 8) {
      throw invalidInput(`adv: value goes beyond the end of the buffer: tag ${tag}, size ${size}`);
    }
    // Upstream keys are uint8: wider on-disk tags are truncated the same way.
    tags.set(tag & 0xff, copy.slice(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return tags;
}

/**
 * Reads the ADV at the start of `bytes` (at least 512 KiB): the first valid copy wins. Neither copy
 * valid is not an error, as in Talos (a fresh partition is all zeros): `copy` is then `none`.
 */
export function decodeTalosAdv(bytes: Uint8Array): TalosAdvContents {
  if (bytes.length < TALOS_ADV_SIZE) {
    throw invalidInput(`Talos ADV needs ${TALOS_ADV_SIZE} bytes, got ${bytes.length}`);
  }
  const problems: string[] = [];
  for (const [i, name] of [[0, "first"] as const, [1, "second"] as const]) {
    try {
      const tags = decodeTalosAdvCopy(bytes.subarray(i * TALOS_ADV_LENGTH, (i + 1) * TALOS_ADV_LENGTH));
      return { tags, copy: name, problems };
    } catch (e) {
      problems.push(`${name} copy: ${(e as Error).message}`);
    }
  }
  return { tags: new Map(), copy: "none", problems };
}

/**
 * The META partition image (upstream `internal/pkg/meta` in image mode): the Talos ADV (two
 * copies) at offset 0 and the legacy syslinux ADV region in the last 1024 bytes, which the
 * imager leaves as zeros. Disk images carry `--meta` values (and `0x11=dual-boot`) this way.
 */
import { invalidInput } from "../../errors/index.js";
import type { MetaValue } from "./meta-value.js";
import { SYSLINUX_ADV_SIZE, SyslinuxAdv } from "./syslinux-adv.js";
import { decodeTalosAdv, encodeTalosAdv, TALOS_ADV_SIZE } from "./talos-adv.js";

/** The META partition size upstream creates (1 MiB). */
export const META_PARTITION_SIZE = 1024 * 1024;

/** What a META partition holds. */
export interface MetaPartitionContents {
  /** Effective values by ascending key: Talos ADV tags, then legacy tags the Talos ADV lacks. */
  readonly values: MetaValue[];
  /** Which Talos ADV copy was used (`none` for an all-zero, never-written partition). */
  readonly talosCopy: "first" | "second" | "none";
  /** Why Talos ADV copies were rejected, if any were. */
  readonly problems: string[];
}

const utf8 = new TextEncoder();
// Go strings hold any bytes; invalid UTF-8 in a value is shown with replacement characters.
const text = new TextDecoder("utf-8");

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < TALOS_ADV_SIZE + SYSLINUX_ADV_SIZE) {
    throw invalidInput(
      `META partition of ${size} bytes is too small: it needs ${TALOS_ADV_SIZE + SYSLINUX_ADV_SIZE}`,
    );
  }
}

/**
 * The partition image bytes for `values` (a later value for the same key replaces an earlier
 * one, as repeated `SetTag` calls do). Keys must be 1–255 and the values must fit one 256 KiB copy.
 */
export function encodeMetaPartition(values: readonly MetaValue[], size = META_PARTITION_SIZE): Uint8Array {
  checkSize(size);
  const tags = new Map<number, Uint8Array>();
  for (const v of values) tags.set(v.key, utf8.encode(v.value));
  const out = new Uint8Array(size);
  out.set(encodeTalosAdv(tags), 0);
  // The legacy region stays zero: that is what upstream writes (its in-memory legacy ADV is empty).
  return out;
}

/**
 * Reads a META partition image back: the first valid Talos ADV copy (recovering from a damaged
 * one) merged over the legacy syslinux ADV, as Talos' `ReadTag` does.
 */
export function decodeMetaPartition(bytes: Uint8Array): MetaPartitionContents {
  checkSize(bytes.length);
  const talos = decodeTalosAdv(bytes);
  const merged = new Map<number, Uint8Array>(talos.tags);
  const legacy = SyslinuxAdv.fromBytes(bytes);
  for (const tag of legacy.listTags()) {
    if (!merged.has(tag)) {
      const value = legacy.readTag(tag);
      if (value !== undefined) merged.set(tag, value);
    }
  }
  const values = [...merged]
    .sort(([a], [b]) => a - b)
    .map(([key, value]) => ({ key, value: text.decode(value) }));
  return { values, talosCopy: talos.copy, problems: talos.problems };
}

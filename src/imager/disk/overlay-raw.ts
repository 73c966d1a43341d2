/**
 * Upstream runs the overlay's `install` on the raw disk file before writing the GPT and the
 * partitions, which then overwrite what they cover. Bootforge builds the disk from scratch, so the
 * installer writes into a sparse stand-in file and this hook replays its non-zero sectors with the
 * same precedence: table sectors and filesystem partitions win, MBR code bytes 0–445 are kept.
 */
import { open } from "node:fs/promises";
import type { DiskImageHook } from "./disk-image.js";
import type { PartitionPlan } from "../../formats/disk-layout.js";

const CHUNK = 1024 * 1024;
const ZERO = Buffer.alloc(CHUNK);
const GPT_ENTRIES_BYTES = 128 * 128;

/** A hook that copies the overlay's raw writes from `standIn` into the disk. */
export function overlayRawWritesHook(standIn: string, layout: readonly PartitionPlan[]): DiskImageHook {
  return async ({ file, table }) => {
    const sector = table.sectorSize;
    const entrySectors = Math.ceil(GPT_ENTRIES_BYTES / sector);
    const filled = table.partitions
      .filter((p) => {
        const fs = layout.find((l) => l.name === p.name)?.filesystem;
        return fs === "vfat" || fs === "xfs" || fs === "ext4";
      })
      .map((p) => [p.firstLBA, p.lastLBA] as const);
    const owned = (lba: number) =>
      lba === 1 ||
      (lba >= table.primaryEntriesLBA && lba < table.primaryEntriesLBA + entrySectors) ||
      lba >= table.backupEntriesLBA ||
      filled.some(([a, b]) => lba >= a && lba <= b);
    const src = await open(standIn, "r");
    try {
      const { size } = await src.stat();
      const buf = Buffer.alloc(CHUNK);
      for (let pos = 0; pos < size; pos += CHUNK) {
        const { bytesRead } = await src.read(buf, 0, CHUNK, pos);
        if (bytesRead === 0) break;
        if (buf.subarray(0, bytesRead).equals(ZERO.subarray(0, bytesRead))) continue;
        for (let off = 0; off < bytesRead; off += sector) {
          const s = buf.subarray(off, Math.min(off + sector, bytesRead));
          if (s.equals(ZERO.subarray(0, s.length))) continue;
          const lba = (pos + off) / sector;
          if (owned(lba)) continue;
          // sector 0: upstream's GPT write rewrites only the partition table and signature
          const data = lba === 0 ? s.subarray(0, 446) : s;
          await file.write(data, 0, data.length, pos + off);
        }
      }
    } finally {
      await src.close();
    }
  };
}

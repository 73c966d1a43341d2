/**
 * Test disks: a small GPT image (via sfdisk on a regular file) whose META partition holds a
 * Talos ADV, so the fixture init's META reader can be checked without a full disk image.
 */
import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { run } from "../../src/imager/tools/run.js";

const ADV_COPY = 256 * 1024;

/** One 256 KiB Talos ADV copy (big-endian, records sorted by tag, SHA-256 trailer). */
export function talosAdv(values: Record<number, string>): Buffer {
  const b = Buffer.alloc(ADV_COPY);
  b.writeUInt32BE(0x5a4b3c2d, 0);
  let off = 4;
  for (const [tag, value] of Object.entries(values).sort(([a], [b]) => Number(a) - Number(b))) {
    const v = Buffer.from(value);
    b.writeUInt32BE(Number(tag), off);
    b.writeUInt32BE(v.length, off + 4);
    v.copy(b, off + 8);
    off += 8 + v.length;
  }
  b.writeUInt32BE(0xa5b4c3d2, ADV_COPY - 4);
  createHash("sha256")
    .update(b)
    .digest()
    .copy(b, ADV_COPY - 36);
  return b;
}

/** Writes a 4 MiB GPT disk at `path` with partitions META (1 MiB, holding the ADV) and STATE. */
export async function writeMetaDisk(path: string, values: Record<number, string>): Promise<void> {
  const f = await open(path, "w");
  await f.truncate(4 * 1024 * 1024);
  await f.close();
  const layout = [
    "label: gpt",
    "start=2048, size=2048, name=META, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "start=4096, size=2048, name=STATE, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "",
  ].join("\n");
  await run("sfdisk", ["--quiet", path], { stdin: layout });
  const adv = talosAdv(values);
  const g = await open(path, "r+");
  await g.write(adv, 0, adv.length, 2048 * 512);
  await g.write(adv, 0, adv.length, 2048 * 512 + ADV_COPY);
  await g.close();
}

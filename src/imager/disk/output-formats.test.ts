import assert from "node:assert/strict";
import { mkdtemp, open, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { run } from "../tools/run.js";
import { compressFile, type Compression } from "./compress.js";
import { convertDiskImage } from "./disk-format.js";
import { diskLayout } from "../../formats/disk-layout.js";
import { buildDiskImage } from "./disk-image.js";
import { guidFromLabel } from "../../formats/guid.js";
import { sameBytes } from "../filesystems/test-fixtures.js";

const MIB = 1024 * 1024;
const EPOCH = 1700000000;
let dir = "";
let raw = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-out-"));
  raw = join(dir, "disk.img");
  // a small sd-boot style disk: GPT, an empty FAT EFI partition, META
  await buildDiskImage({
    path: raw,
    diskSize: 48 * MIB,
    version: "v1.11.0",
    layout: diskLayout({ version: "v1.11.0", arch: "arm64", bootloader: "sd-boot" }).map((p) =>
      p.name === "EFI" ? { ...p, size: 40 * MIB } : p,
    ),
    epoch: EPOCH,
    scratchDir: dir,
  });
  // some data in the image so compressors have something to do
  const f = await open(raw, "r+");
  await f.write(Buffer.alloc(MIB, "talos"), 0, MIB, 45 * MIB);
  await f.close();
});
after(async () => rm(dir, { recursive: true, force: true }));

for (const kind of [".xz", ".gz", ".zst"] as Compression[]) {
  test(`${kind}: reproducible and decompresses to the raw image`, async () => {
    const a = join(dir, `a${kind}`);
    const b = join(dir, `b${kind}`);
    await compressFile(raw, a, kind);
    await compressFile(raw, b, kind);
    assert.ok(await sameBytes(a, b));
    const back = join(dir, `back${kind}.raw`);
    if (kind === ".gz") {
      const data = gunzipSync(await readFile(a));
      assert.ok(data.equals(await readFile(raw)));
      assert.equal((await readFile(a)).readUInt32LE(4), 0, "gzip header mtime is 0");
    } else {
      await run(kind === ".xz" ? "xz" : "zstd", ["-d", "-c", a], {
        stdout: (await open(back, "w")).createWriteStream(),
      });
      assert.ok(await sameBytes(back, raw));
    }
  });
}

test(".tar.gz: sparse GNU tar with disk.raw, reproducible, fixed header", async () => {
  const a = join(dir, "gcp-a.tar.gz");
  const b = join(dir, "gcp-b.tar.gz");
  await compressFile(raw, a, ".tar.gz", { epoch: EPOCH });
  await compressFile(raw, b, ".tar.gz", { epoch: EPOCH });
  assert.ok(await sameBytes(a, b));
  const { stdout } = await run("tar", ["-tvzf", a], { env: { TZ: "UTC" } });
  assert.match(stdout.toString(), /^-rw-r--r-- 0\/0 +50331648 2023-11-14 22:13 disk\.raw\n$/);
  const out = join(dir, "x");
  await run("tar", ["-xzf", a, "-C", dir, "--transform", "s/disk.raw/x/"]);
  assert.ok(await sameBytes(out, raw));
});

test("qcow2: qemu-img check passes, reproducible, converts back to the same bytes", async () => {
  const a = join(dir, "a.qcow2");
  const b = join(dir, "b.qcow2");
  await convertDiskImage(raw, a, "qcow2");
  await convertDiskImage(raw, b, "qcow2");
  assert.ok(await sameBytes(a, b));
  await run("qemu-img", ["check", a]);
  const back = join(dir, "qcow2-back.raw");
  await run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", a, back]);
  assert.ok(await sameBytes(back, raw));
});

test("vhd (fixed, force_size): footer timestamp and UUID fixed, reproducible, qemu-img reads it", async () => {
  const a = join(dir, "a.vhd");
  const b = join(dir, "b.vhd");
  await convertDiskImage(raw, a, "vhd", { epoch: EPOCH });
  await new Promise((r) => setTimeout(r, 1100));
  await convertDiskImage(raw, b, "vhd", { epoch: EPOCH });
  assert.ok(await sameBytes(a, b));
  const info = JSON.parse(
    (await run("qemu-img", ["info", "--output=json", "-f", "vpc", a])).stdout.toString(),
  ) as {
    "virtual-size": number;
  };
  assert.equal(info["virtual-size"], 48 * MIB);
  assert.equal((await stat(a)).size, 48 * MIB + 512);
  const footer = (await readFile(a)).subarray(-512);
  assert.equal(footer.readUInt32BE(24), EPOCH - 946684800);
  assert.equal(footer.subarray(68, 84).toString("hex"), guidFromLabel("talos-image-vhd").replaceAll("-", ""));
  const back = join(dir, "vhd-back.raw");
  await run("qemu-img", ["convert", "-f", "vpc", "-O", "raw", a, back]);
  assert.ok(await sameBytes(back, raw));
});

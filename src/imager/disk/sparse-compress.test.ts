import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, open, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { run } from "../tools/run.js";
import { codecs, compressFile } from "./compress.js";
import { dataExtents, parseSeekOutput, wholeFile } from "./data-extents.js";
import { convertDiskImage } from "./disk-format.js";
import { CHUNK_SIZE, chunkRuns, compressSparse, dataChunks } from "./sparse-compress.js";

const MIB = 1024 * 1024;
// A mostly empty disk of realistic shape, scaled down so each decoder reads it in well under a
// second: 32 full chunks and a partial one; data at the start, unaligned across a chunk boundary,
// in the middle, in the partial last chunk up to the very last byte; one chunk written with zeros.
const SIZE = 128 * MIB + 3 * MIB + 5;
const REGIONS: [offset: number, length: number, kind: "text" | "noise" | "zero"][] = [
  [0, 20 * 1024, "text"],
  [MIB, 3 * MIB, "text"],
  [2 * MIB + 12345, 128 * 1024, "noise"],
  [48 * MIB - 1000, 256 * 1024 + 777, "noise"],
  [90 * MIB + 4096, 300_000, "text"],
  [100 * MIB, 4 * MIB, "zero"],
  [SIZE - 17 * 1024 - 5, 17 * 1024 + 5, "text"],
];

let dir = "";
let raw = "";
let rawSha = "";

/** Deterministic bytes: repetitive text, or noise that compresses poorly (xorshift32). */
function fill(length: number, kind: "text" | "noise" | "zero", seed: number): Buffer {
  if (kind === "zero") return Buffer.alloc(length);
  if (kind === "text") return Buffer.alloc(length, `talos disk block ${seed}\n`);
  const b = Buffer.alloc(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function sparseImage(path: string, size: number, regions: typeof REGIONS): Promise<void> {
  const f = await open(path, "w");
  try {
    await f.truncate(size);
    for (const [i, [offset, length, kind]] of regions.entries()) {
      await f.write(fill(length, kind, i + 1), 0, length, offset);
    }
  } finally {
    await f.close();
  }
}

async function sha256(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path, { highWaterMark: MIB })) h.update(c as Buffer);
  return h.digest("hex");
}

/** sha256 of what `cmd args…` writes to stdout, reading `stdinFile` on stdin. */
function decodedSha(cmd: string, args: string[], stdinFile?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    const h = createHash("sha256");
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => h.update(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    if (stdinFile === undefined) child.stdin.end();
    else createReadStream(stdinFile).pipe(child.stdin);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(h.digest("hex"))
        : reject(new Error(`${cmd} ${args.join(" ")}: ${code} ${stderr}`)),
    );
  });
}

// Python's own decoders (not liblzma's xz tool, not zlib's gzip): sha256 of the whole stream.
async function pythonDigest(module: "lzma" | "gzip", file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const code = `import ${module}, hashlib, sys
h = hashlib.sha256()
with ${module}.open(sys.argv[1]) as f:
    for b in iter(lambda: f.read(1 << 20), b""):
        h.update(b)
print(h.hexdigest())`;
    const child = spawn("python3", ["-c", code, file], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.on("error", reject);
    child.on("close", (c) =>
      c === 0 ? resolve(out.trim()) : reject(new Error(`python3 ${module}: ${err}`)),
    );
  });
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-sparse-"));
  raw = join(dir, "disk.raw");
  await sparseImage(raw, SIZE, REGIONS);
  rawSha = await sha256(raw);
});
after(async () => rm(dir, { recursive: true, force: true }));

test("parseSeekOutput: data extents from xfs_io's seek table", () => {
  const table = "Whence\tResult\nHOLE\t0\nDATA\t4096\nHOLE\t8192\nDATA\t65536\nHOLE\t100000\n";
  assert.deepEqual(parseSeekOutput(table, 100000), [
    { offset: 4096, length: 4096 },
    { offset: 65536, length: 100000 - 65536 },
  ]);
  // data up to the end of the file without a final HOLE line
  assert.deepEqual(parseSeekOutput("Whence\tResult\nDATA\t0\nHOLE\t10\nDATA\t20\n", 30), [
    { offset: 0, length: 10 },
    { offset: 20, length: 10 },
  ]);
  assert.deepEqual(parseSeekOutput("Whence\tResult\nHOLE\t0\n", 1 << 30), []);
  assert.deepEqual(parseSeekOutput("Whence\tResult\nDATA\tEOF\nHOLE\t0\n", 5), []);
  // anything else: unknown
  assert.equal(parseSeekOutput("", 10), undefined);
  assert.equal(parseSeekOutput("Whence\tResult\nDATA\t4\n", 10), undefined, "must start at 0");
  assert.equal(parseSeekOutput("Whence\tResult\nDATA\t0\nHOLE\t8\nDATA\t4\n", 10), undefined);
  assert.equal(parseSeekOutput("Whence\tResult\nDATA\t0\nHOLE\t80\n", 10), undefined, "past the end");
  assert.equal(parseSeekOutput("Whence\tResult\nDATA\t0\nsomething\n", 10), undefined);
});

test("dataExtents covers every written byte; zero chunks are found by content", async () => {
  const extents = await dataExtents(raw, SIZE);
  assert.ok(extents !== undefined, "xfs_io answers on this filesystem");
  for (const [offset, length] of REGIONS) {
    assert.ok(
      extents.some((e) => e.offset <= offset && offset + length <= e.offset + e.length),
      `region at ${offset} is data`,
    );
  }
  const allocated = extents.reduce((n, e) => n + e.length, 0);
  assert.ok(allocated < 16 * MIB, `holes are reported (${allocated} bytes of data)`);

  const f = await open(raw, "r");
  try {
    const fromExtents = await dataChunks(f, SIZE, CHUNK_SIZE, extents);
    const fromScan = await dataChunks(f, SIZE, CHUNK_SIZE, wholeFile(SIZE));
    assert.deepEqual(fromExtents, fromScan);
    const data = [...fromScan.entries()].filter(([, v]) => v === 1).map(([i]) => i);
    // chunk 25 (the zero-filled one) is a zero chunk; 11 and 12 share the unaligned region
    assert.deepEqual(data, [0, 11, 12, 22, 32]);
    assert.deepEqual(
      chunkRuns(fromScan).map((r) => [r.data, r.first, r.count]),
      [
        [true, 0, 1],
        [false, 1, 10],
        [true, 11, 2],
        [false, 13, 9],
        [true, 22, 1],
        [false, 23, 9],
        [true, 32, 1],
      ],
    );
  } finally {
    await f.close();
  }
});

const DECODE: Record<"xz" | "zstd" | "gzip", string[]> = { xz: ["-dc"], zstd: ["-dcq"], gzip: ["-dc"] };

for (const [kind, tool] of [
  [".zst", "zstd"],
  [".xz", "xz"],
  [".gz", "gzip"],
] as const) {
  test(`${kind}: reproducible, independent of SEEK_DATA and parallelism, decodes to the raw image`, async () => {
    const a = join(dir, `a${kind}`);
    const b = join(dir, `b${kind}`);
    const scanned = join(dir, `scanned${kind}`);
    const serial = join(dir, `serial${kind}`);
    await compressFile(raw, a, kind);
    await compressFile(raw, b, kind);
    const codec = codecs()[kind === ".zst" ? "zst" : kind === ".xz" ? "xz" : "gz"];
    await compressSparse(raw, scanned, codec, { scanOnly: true });
    await compressSparse(raw, serial, codec, { concurrency: 1 });
    const bytes = await readFile(a);
    assert.ok(bytes.equals(await readFile(b)), "same input, same bytes");
    assert.ok(bytes.equals(await readFile(scanned)), "same bytes without SEEK_DATA");
    assert.ok(bytes.equals(await readFile(serial)), "same bytes one piece at a time");
    assert.ok(bytes.length < 2 * MIB, `holes cost little (${bytes.length} bytes)`);
    assert.equal(await decodedSha(tool, DECODE[tool], a), rawSha);
    if (kind === ".gz") assert.equal(bytes.readUInt32LE(4), 0, "gzip header mtime is 0");
    if (kind === ".zst") {
      // every frame records its content size: zstd can tell the whole size without decoding
      const { stdout } = await run("zstd", ["-lv", a]);
      assert.match(stdout.toString(), new RegExp(`Decompressed Size: .*\\(${SIZE} B\\)`));
    }
  });
}

test(".xz and .gz: busybox and Python decode the concatenated streams and members", async () => {
  const xz = join(dir, "a.xz");
  const gz = join(dir, "a.gz");
  for (const [kind, path] of [
    [".xz", xz],
    [".gz", gz],
  ] as const)
    if (!(await stat(path).catch(() => undefined))) await compressFile(raw, path, kind);
  assert.equal(await decodedSha("busybox", ["unxz", "-c"], xz), rawSha);
  assert.equal(await decodedSha("busybox", ["gunzip", "-c"], gz), rawSha);
  assert.equal(await pythonDigest("lzma", xz), rawSha);
  assert.equal(await pythonDigest("gzip", gz), rawSha);
});

test("a partial last chunk of zeros, a file without zero chunks, an empty file, only zeros", async () => {
  const tailZero = join(dir, "tail.raw");
  await sparseImage(tailZero, 3 * CHUNK_SIZE + 100, [
    [0, 8192, "text"],
    [CHUNK_SIZE + 7, 100_000, "noise"],
  ]);
  const dense = join(dir, "dense.raw");
  await writeFile(dense, Buffer.concat([fill(256 * 1024, "noise", 9), fill(MIB, "text", 9)]));
  const empty = join(dir, "empty.raw");
  await writeFile(empty, "");
  const zeros = join(dir, "zeros.raw");
  await sparseImage(zeros, 2 * CHUNK_SIZE + 4096, []);
  for (const input of [tailZero, dense, empty, zeros]) {
    const sum = await sha256(input);
    for (const [kind, tool] of [
      [".zst", "zstd"],
      [".xz", "xz"],
      [".gz", "gzip"],
    ] as const) {
      const out = join(dir, `t${kind}`);
      await compressFile(input, out, kind);
      const what = `${input} ${kind}`;
      assert.equal(await decodedSha(tool, DECODE[tool], out), sum, what);
      // the other decoders where the layout differs from the big image's: a zero piece at the end
      if (input !== tailZero) continue;
      if (kind === ".xz") {
        assert.equal(await decodedSha("busybox", ["unxz", "-c"], out), sum, what);
        assert.equal(await pythonDigest("lzma", out), sum, what);
      }
      if (kind === ".gz") {
        assert.equal(await decodedSha("busybox", ["gunzip", "-c"], out), sum, what);
        assert.equal(await pythonDigest("gzip", out), sum, what);
      }
    }
  }
  // A file with no zero chunk is compressed as the whole-file command does it: upstream's bytes.
  const zst = join(dir, "dense.zst");
  await compressFile(dense, zst, ".zst");
  assert.ok((await readFile(zst)).equals((await run("zstd", ["-T0", "-18", "--quiet", "-c", dense])).stdout));
  const xz = join(dir, "dense.xz");
  await compressFile(dense, xz, ".xz");
  assert.ok((await readFile(xz)).equals((await run("xz", ["-0", "-T0", "-c", dense])).stdout));
});

test("a .vhd.xz decodes to a VHD that qemu-img reads back as the raw image", async () => {
  // a disk is whole sectors (the VHD's virtual size is)
  const disk = join(dir, "sectors.raw");
  const size = SIZE - (SIZE % 512);
  await sparseImage(disk, size, [...REGIONS.slice(0, -1), [size - 17 * 1024, 17 * 1024, "text"]]);
  const vhd = join(dir, "disk.vhd");
  await convertDiskImage(disk, vhd, "vhd", { epoch: 1700000000 });
  const out = join(dir, "disk.vhd.xz");
  await compressFile(vhd, out, ".xz");
  const back = join(dir, "disk-back.vhd");
  await run("xz", ["-dc", out], { stdoutFile: back });
  const rawBack = join(dir, "disk-back.raw");
  await run("qemu-img", ["convert", "-f", "vpc", "-O", "raw", back, rawBack]);
  assert.equal(await sha256(back), await sha256(vhd));
  assert.equal(await sha256(rawBack), await sha256(disk));
});

test("abort: the tools stop, no output and no scratch files are left", async () => {
  // 8 MiB of noise keeps zstd -18 busy for seconds
  const busy = join(dir, "busy.raw");
  await sparseImage(busy, 64 * MIB, [[MIB, 8 * MIB, "noise"]]);
  const out = join(dir, "aborted.zst");
  const ac = new AbortController();
  const started = performance.now();
  const t = setTimeout(() => ac.abort(new Error("stop")), 300);
  await assert.rejects(compressFile(busy, out, ".zst", { signal: ac.signal }));
  clearTimeout(t);
  assert.ok(performance.now() - started < 2500, "stopped soon after the abort");
  await assert.rejects(stat(out), "no partial output");
  assert.deepEqual(
    (await readdir(dir)).filter((n) => n.startsWith(".bootforge-chunks-")),
    [],
    "no scratch directory",
  );
  const before = new AbortController();
  before.abort();
  await assert.rejects(compressFile(raw, out, ".xz", { signal: before.signal }));
  await assert.rejects(stat(out));
});

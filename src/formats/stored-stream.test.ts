import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { xzStoredStream, zstdStoredFrame } from "./stored-stream.js";

async function collect(gen: AsyncGenerator<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of gen) out.push(b);
  return Buffer.concat(out);
}

/** Decodes `data` with an independent decoder (a program reading stdin). */
function decode(cmd: string, args: string[], data: Buffer): Buffer {
  const r = spawnSync(cmd, args, { input: data, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")}: ${r.stderr?.toString()}`);
  return r.stdout;
}

const PY_LZMA = "import lzma,sys; sys.stdout.buffer.write(lzma.decompress(sys.stdin.buffer.read()))";
const decoders = {
  // Debian's busybox has no unzstd and Python no zstd module; the kernel is the other decoder (boot tests).
  zstd: [["zstd", ["-d", "-c", "-q"]]],
  xz: [
    ["xz", ["-d", "-c", "-q"]],
    ["busybox", ["unxz", "-c"]],
    ["python3", ["-c", PY_LZMA]],
  ],
} as const;

// Around the block and chunk limits (64 KiB LZMA2 chunks, 128 KiB zstd blocks), fed in odd pieces.
const SIZES = [0, 1, 65535, 65536, 65537, 131071, 131072, 131073, 300_001];

for (const [format, wrap] of [
  ["zstd", zstdStoredFrame],
  ["xz", xzStoredStream],
] as const) {
  test(`${format}: stored data decodes to the input with every decoder`, async () => {
    for (const size of SIZES) {
      const input = randomBytes(size);
      const parts = [input.subarray(0, 1000), input.subarray(1000, 70_000), input.subarray(70_000)];
      const packed = await collect(wrap(parts));
      assert.ok(packed.length < size + 64 + Math.ceil(size / 65536) * 3, `overhead at ${size}`);
      for (const [cmd, args] of decoders[format]) {
        const got = decode(cmd, [...args], packed);
        assert.equal(got.length, size, `${cmd} at ${size}`);
        assert.ok(got.equals(input), `${cmd} at ${size}`);
      }
    }
  });

  test(`${format}: a stored part concatenated after a compressed one decodes as one stream`, async () => {
    const a = randomBytes(5000);
    const b = randomBytes(200_000);
    const first = decode(format, ["-c", "-q", "-3"], a);
    const packed = Buffer.concat([first, await collect(wrap([b]))]);
    const got = decode(format, ["-d", "-c", "-q"], packed);
    assert.ok(got.equals(Buffer.concat([a, b])));
    // `xz -l` / `zstd -l` read the container's own bookkeeping (index, footers, block headers).
    const file = join(await mkdtemp(join(tmpdir(), "stored-")), `x.${format === "xz" ? "xz" : "zst"}`);
    await writeFile(file, packed);
    const list = spawnSync(format, ["-l", file]);
    assert.equal(list.status, 0, list.stderr.toString());
    await rm(dirname(file), { recursive: true });
  });
}

test("stored output is a function of the input bytes only, not of how they arrive", async () => {
  const input = randomBytes(200_000);
  for (const wrap of [zstdStoredFrame, xzStoredStream]) {
    const whole = await collect(wrap([input]));
    const split = await collect(
      wrap([input.subarray(0, 7), input.subarray(7, 131_075), input.subarray(131_075)]),
    );
    assert.equal(
      createHash("sha256").update(whole).digest("hex"),
      createHash("sha256").update(split).digest("hex"),
    );
  }
});

test("a corrupted stored xz stream is refused by xz (the CRC32 check is real)", async () => {
  const packed = await collect(xzStoredStream([randomBytes(10_000)]));
  packed[5000] = packed[5000]! ^ 1;
  const r = spawnSync("xz", ["-d", "-c", "-q"], { input: packed });
  assert.notEqual(r.status, 0);
});

import assert from "node:assert/strict";
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { isBootforgeError } from "../errors/index.js";
import { compressor } from "./compression.js";
import { extractTar } from "./extract.js";
import { tarStream, type LayerEntry } from "./layer-builder.js";
import { OciLayout } from "./layout.js";
import { assembleImage, writeImage } from "./image-builder.js";
import { buildLayer } from "./layer-builder.js";
import { resolveImage, readSmallBlob } from "./image.js";
import { prng } from "../../test/helpers/prng.js";

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "bootforge-extract-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function extractEntries(
  entries: LayerEntry[],
  opts: Parameters<typeof extractTar>[2] = {},
  compression: "gzip" | "zstd" | "none" = "gzip",
) {
  const dest = join(root, `d${n++}`, "root");
  await mkdir(dest, { recursive: true });
  const src = tarStream(entries, { keepOrder: true }).pipe(compressor(compression));
  await extractTar(src, dest, opts);
  return dest;
}

async function rejectsUnsafe(entries: LayerEntry[], name: string, why: RegExp, kind = "invalid-input") {
  await assert.rejects(extractEntries(entries), (e) => {
    assert.ok(isBootforgeError(e), String(e));
    assert.equal(e.kind, kind, e.message);
    assert.ok(e.message.includes(JSON.stringify(name)), `names the entry: ${e.message}`);
    assert.match(e.message, why);
    return true;
  });
}

test("a well-formed layer extracts with modes, symlinks and hard links", async () => {
  const dest = await extractEntries([
    { path: "bin", type: "directory", mode: 0o555 },
    { path: "bin/tool", content: "x", mode: 0o755 },
    { path: "bin/sh", type: "symlink", linkname: "/bin/tool" },
    { path: "bin/again", type: "link", linkname: "bin/tool" },
    { path: "./etc/conf", content: "c" },
  ]);
  assert.equal(await readFile(join(dest, "bin/again"), "utf8"), "x");
  assert.equal(await readlink(join(dest, "bin/sh")), "/bin/tool");
  assert.equal(await readFile(join(dest, "etc/conf"), "utf8"), "c");
});

test("path traversal with .. is refused", () =>
  rejectsUnsafe([{ path: "a/../../evil", content: "x" }], "a/../../evil", /escapes/));
test("absolute paths are refused", () =>
  rejectsUnsafe([{ path: "/etc/passwd", content: "x" }], "/etc/passwd", /absolute/));
test("symlinks pointing outside are refused", () =>
  rejectsUnsafe([{ path: "a/link", type: "symlink", linkname: "../../outside" }], "a/link", /outside/));
test("writing through a symlink is refused", () =>
  rejectsUnsafe(
    [
      { path: "escape", type: "symlink", linkname: "/tmp" },
      { path: "escape/pwned", content: "x" },
    ],
    "escape/pwned",
    /symlink traversal/,
  ));
test("hard links outside are refused", () =>
  rejectsUnsafe([{ path: "hl", type: "link", linkname: "../outside" }], "hl", /hard link/));
test("device nodes are refused (or skipped when asked)", async () => {
  await rejectsUnsafe([{ path: "dev/sda", type: "block-device" }], "dev/sda", /not allowed/, "unsupported");
  await rejectsUnsafe(
    [{ path: "dev/null", type: "character-device" }],
    "dev/null",
    /not allowed/,
    "unsupported",
  );
  const dest = await extractEntries(
    [
      { path: "dev/null", type: "character-device" },
      { path: "ok", content: "y" },
    ],
    { skipSpecial: true },
  );
  assert.equal(await readFile(join(dest, "ok"), "utf8"), "y");
});

for (const c of ["gzip", "zstd"] as const) {
  test(`a small ${c} bomb is stopped by the size limit`, async () => {
    const big = Buffer.alloc(24 << 20);
    const compressed: Buffer[] = [];
    for await (const b of tarStream([{ path: "zeros", content: big }]).pipe(compressor(c)))
      compressed.push(b as Buffer);
    const blob = Buffer.concat(compressed);
    assert.ok(blob.length < 200_000, `bomb is small (${blob.length})`);
    const dest = join(root, `bomb-${c}`);
    await mkdir(dest);
    await assert.rejects(extractTar(Readable.from([blob]), dest, { maxBytes: 4 << 20 }), (e) =>
      isBootforgeError(e, "too-large"),
    );
  });
}

test("too many entries are refused", async () => {
  const entries = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}`, content: "" }));
  await assert.rejects(extractEntries(entries, { maxEntries: 10 }), (e) => isBootforgeError(e, "too-large"));
});

test("a corrupted blob in a layout is caught by its digest", async () => {
  const dir = join(root, "layout");
  const layout = await OciLayout.create(dir);
  const layer = await buildLayer([{ path: "f", content: "hello" }], root);
  const img = assembleImage({ layers: [layer], platform: { os: "linux", architecture: "amd64" } });
  await writeImage(layout, img, { tag: "t" });
  const resolved = await resolveImage(layout, "t");
  const d = resolved.manifest.layers[0]!;
  const path = join(dir, "blobs", "sha256", d.digest.slice(7));
  const bytes = await readFile(path);
  bytes.writeUInt8((bytes.at(-5) ?? 0) ^ 0xff, bytes.length - 5);
  await writeFile(path, bytes);
  await assert.rejects(
    readSmallBlob(layout, d),
    (e) => isBootforgeError(e, "io") && /digest mismatch/.test(e.message),
  );
});

/** The bytes of a tar of `entries`, compressed with `c`. */
async function tarBytes(entries: LayerEntry[], c: "gzip" | "zstd" | "none" = "none"): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const b of tarStream(entries, { keepOrder: true }).pipe(compressor(c))) out.push(b as Buffer);
  return Buffer.concat(out);
}

/** Settles with `p`, or rejects as a hang after `ms`: a hostile archive must never stall extraction. */
async function noHang<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, hang]);
  } finally {
    clearTimeout(timer);
  }
}

for (const c of ["none", "gzip", "zstd"] as const) {
  test(`a ${c} tar truncated inside a file's data is refused promptly, naming the entry`, async () => {
    const full = await tarBytes(
      [
        { path: "dir", type: "directory" },
        { path: "dir/file", content: Buffer.alloc(3000, 0x41) },
      ],
      c,
    );
    // Plain: 512 (dir) + 512 (header) + 988 of the 3000 data bytes. Compressed: half the stream.
    const cut = c === "none" ? full.subarray(0, 1500) : full.subarray(0, Math.floor(full.length / 2));
    const dest = join(root, `trunc-${c}`);
    await mkdir(dest);
    await assert.rejects(noHang(extractTar(Readable.from([cut]), dest), 5000, "truncated tar"), (e) => {
      assert.ok(isBootforgeError(e), String(e));
      assert.ok(e.kind === "io" || e.kind === "invalid-input", e.kind);
      if (c === "none") assert.ok(e.message.includes('"dir/file"'), `names the entry: ${e.message}`);
      return true;
    });
    // A partial file must not be left looking complete.
    await assert.rejects(lstat(join(dest, "dir/file")), { code: "ENOENT" });
  });
}

/** Asserts that everything under `sandbox` is `root/…` made of files, directories and contained symlinks. */
async function assertSafeTree(sandbox: string): Promise<void> {
  assert.deepEqual(await readdir(sandbox), ["root"], "nothing written beside the destination");
  const walk = async (rel: string): Promise<void> => {
    for (const name of await readdir(join(sandbox, "root", rel))) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(sandbox, "root", r));
      if (st.isDirectory()) await walk(r);
      else if (st.isSymbolicLink()) {
        const to = await readlink(join(sandbox, "root", r));
        if (!to.startsWith("/")) {
          const resolved = posix.normalize(posix.join(posix.dirname(r), to));
          assert.ok(resolved !== ".." && !resolved.startsWith("../"), `symlink ${r} -> ${to} escapes`);
        }
      } else assert.ok(st.isFile(), `${r} is a regular file`);
    }
  };
  await walk("");
}

test("300+ seeded corruptions and truncations of valid archives never hang and fail only with typed errors", async () => {
  const bases: LayerEntry[][] = [
    [
      { path: "dir", type: "directory" },
      { path: "dir/file", content: Buffer.alloc(3000, 0x41) },
    ],
    [
      { path: "bin", type: "directory" },
      { path: "bin/tool", content: "#!/bin/sh\necho tool\n", mode: 0o755 },
      { path: "bin/sh", type: "symlink", linkname: "tool" },
      { path: "bin/again", type: "link", linkname: "bin/tool" },
      { path: "empty", content: "" },
      { path: `long/${"n".repeat(150)}/deep`, content: Buffer.alloc(700, 7) },
      { path: "big", content: Buffer.from(Array.from({ length: 20000 }, (_, i) => (i * 31) & 0xff)) },
    ],
  ];
  const seed = 0x5eed;
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const outcomes = { ok: 0, refused: 0 };
  const started = Date.now();
  let i = 0;
  for (const c of ["none", "gzip", "zstd"] as const) {
    const archives = await Promise.all(bases.map((b) => tarBytes(b, c)));
    for (let k = 0; k < 110; k++, i++) {
      const base = archives[int(archives.length)]!;
      let bytes = Buffer.from(base);
      const op = int(4);
      if (op === 0) bytes = bytes.subarray(0, int(bytes.length));
      else if (op === 1) {
        for (let f = 1 + int(4); f > 0; f--) bytes[int(bytes.length)]! ^= 1 << int(8);
      } else if (op === 2) {
        const at = int(bytes.length);
        bytes.fill(int(256), at, Math.min(bytes.length, at + 1 + int(64)));
      } else {
        // Corrupt, then truncate: the nastiest mix for a streaming parser.
        bytes[int(bytes.length)]! ^= 0xff;
        bytes = bytes.subarray(0, int(bytes.length));
      }
      // Feed in random chunk sizes so the parser sees different boundaries.
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length;) {
        const len = 1 + int(4096);
        chunks.push(bytes.subarray(at, at + len));
        at += len;
      }
      const sandbox = join(root, `fuzz-${i}`);
      await mkdir(join(sandbox, "root"), { recursive: true });
      const what = `case ${i} (seed ${seed}, ${c}, op ${op}, ${bytes.length} bytes)`;
      try {
        await noHang(extractTar(Readable.from(chunks), join(sandbox, "root")), 5000, what);
        outcomes.ok++;
      } catch (e) {
        assert.ok(isBootforgeError(e), `${what}: not a BootforgeError: ${String(e)}`);
        outcomes.refused++;
      }
      await assertSafeTree(sandbox);
      await rm(sandbox, { recursive: true, force: true });
    }
  }
  assert.ok(i >= 300, `ran ${i} cases`);
  assert.ok(outcomes.refused > 0, "some cases must be refused");
  assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
});

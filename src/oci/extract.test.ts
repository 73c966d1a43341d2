import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/**
 * Hostile system extension images through the imager CLI: layers with path traversal, symlinks
 * escaping the root (and writes through them), hard links outside, device nodes, malformed layers
 * (truncated gzip, a tar header with a bad checksum, a layer that is not tar at all) and a
 * compression bomb (about 9 MiB of gzip that inflates to a 9 GiB file, past the 8 GiB extraction
 * limit). Each must end with a one-line cause naming the image and an upstream exit code, leave no
 * output file, no half-extracted tree in the cache, and nothing outside the work directory.
 * (Hostile overlay installers are covered by `test/overlay/installer-protocol.test.ts`.)
 *
 * The images live in a scratch OCI layout beside a hard-linked copy of the fixture release, named
 * as release images (`--system-extension-image ghcr.io/siderolabs/hostile-<case>:1`): only the
 * release's own references are looked up in a layout release source, and no test reaches out.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { assembleImage, writeImage } from "../../src/oci/image-builder.js";
import { buildLayer, tarStream, type BuiltLayer, type LayerEntry } from "../../src/oci/layer-builder.js";
import { OciLayout } from "../../src/oci/layout.js";
import { S_IFREG, type CpioMember } from "../../src/formats/cpio.js";
import { readCpioFile } from "../../src/imager/initramfs/cpio-file.js";
import { fixtureRelease } from "../factory/harness.js";
import { runImager } from "../helpers/run-imager.js";

const run = promisify(execFile);
const RUN_TIMEOUT_MS = 120_000;
const SECRET = "bootforge-host-secret-7f3a9c";

const manifest = (name: string) =>
  [
    "version: v1alpha1",
    "metadata:",
    `  name: ${name}`,
    '  version: "1.0.0"',
    "  author: reliability suite",
    "  description: hostile",
    "  compatibility:",
    "    talos:",
    '      version: ">= v1.0.0"',
    "",
  ].join("\n");

/** Entries of a well-formed extension, to which each case adds its hostile part. */
const base = (name: string): LayerEntry[] => [
  { path: "manifest.yaml", content: manifest(name) },
  { path: "rootfs", type: "directory" },
  { path: "rootfs/usr", type: "directory" },
  { path: "rootfs/usr/local", type: "directory" },
  { path: "rootfs/usr/local/hello", content: "hello\n" },
];

interface Case {
  name: string;
  entries: LayerEntry[];
  /** A layer blob written as given instead of a well-formed tar.gz of `entries`. */
  raw?: (tar: Buffer) => Buffer;
  /**
   * `refused`: exit `code` with `message` as the last line, no output. `contained`: the tree the
   * layer describes is normalised into the extension root (absolute names, absolute symlinks are
   * root-relative) or dropped (device nodes); the build may fail on the result or succeed.
   */
  expect: "refused" | "contained";
  code: number;
  message: RegExp;
}

const CASES: Case[] = [
  {
    name: "traversal",
    entries: [{ path: "rootfs/../../../../escape-traversal", content: "pwned" }],
    expect: "refused",
    code: 2,
    message: /escapes the destination/,
  },
  {
    name: "absolute",
    entries: [{ path: "/tmp/escape-absolute", content: "pwned" }],
    // Flattening strips the leading slash (as tar does), so this lands at tmp/ in the image root,
    // which the extension shape check then refuses.
    expect: "contained",
    code: 2,
    message: /unexpected file "tmp"/,
  },
  {
    name: "symlink-escape",
    entries: [{ path: "rootfs/usr/lib", type: "symlink", linkname: "../../../../../../escape-dir" }],
    expect: "refused",
    code: 2,
    message: /points outside/,
  },
  {
    name: "write-through-symlink",
    entries: [
      { path: "rootfs/usr/share", type: "symlink", linkname: "/tmp" },
      { path: "rootfs/usr/share/escape-through-link", content: "pwned" },
    ],
    // An absolute symlink is root-relative; the file ends up inside the extension root.
    expect: "contained",
    code: 0,
    message: /output asset path/,
  },
  {
    name: "hardlink-escape",
    entries: [{ path: "rootfs/usr/passwd", type: "link", linkname: "../../../../etc/passwd" }],
    expect: "refused",
    code: 2,
    message: /hard link/,
  },
  {
    name: "device",
    entries: [
      { path: "rootfs/dev", type: "directory" },
      { path: "rootfs/dev/sda", type: "block-device" },
    ],
    // Release and extension extraction skips device nodes (skipSpecial): dropped, never created.
    expect: "contained",
    code: 0,
    message: /output asset path/,
  },
  {
    name: "truncated-gzip",
    entries: [{ path: "rootfs/usr/local/big", content: Buffer.alloc(256 << 10, "bootforge") }],
    raw: (tar) => {
      const gz = gzipSync(tar);
      return gz.subarray(0, Math.floor(gz.length / 2));
    },
    expect: "refused",
    code: 2,
    message:
      /error loading extension ghcr\.io\/siderolabs\/hostile-truncated-gzip:1: truncated or corrupt tar in entry "manifest\.yaml": unexpected end of file/,
  },
  {
    name: "bad-checksum",
    entries: [],
    raw: (tar) => {
      // The checksum field of the first header (bytes 148–155) no longer matches the header.
      const bad = Buffer.from(tar);
      bad.write("0000000\0", 148, "latin1");
      return gzipSync(bad);
    },
    expect: "refused",
    code: 2,
    message:
      /error loading extension ghcr\.io\/siderolabs\/hostile-bad-checksum:1: layer sha256:[0-9a-f]{64} is not a valid tar archive: invalid tar header/i,
  },
  {
    name: "not-tar",
    entries: [],
    raw: () => gzipSync(Buffer.from("this layer is a text file, not a tar archive\n".repeat(64))),
    expect: "refused",
    code: 2,
    message:
      /error loading extension ghcr\.io\/siderolabs\/hostile-not-tar:1: layer sha256:[0-9a-f]{64} is not a valid tar archive: invalid tar header/i,
  },
  {
    name: "bomb",
    entries: [],
    raw: (tar) => bomb(tar),
    expect: "refused",
    code: 2,
    message:
      /error loading extension ghcr\.io\/siderolabs\/hostile-bomb:1: unsafe tar entry "rootfs\/usr\/local\/bomb": extracted size exceeds the limit of 8589934592 bytes/,
  },
];

/** Past the 8 GiB limit of extracted bytes (`extractTar`'s default). */
const BOMB_BYTES = 9 * 1024 ** 3;

/**
 * A compression bomb: the well-formed extension's entries, then a 9 GiB file of zeros. gzip
 * members concatenate, and a MiB of zeros compresses to about a KiB, so the layer is one member
 * for the tar up to the file's header and then the same MiB member 9216 times: ~9 MiB that
 * inflate to 9 GiB.
 */
function bomb(tar: Buffer): Buffer {
  // The tar ends with two zero blocks; the file's header goes before them.
  const body = tar.subarray(0, tar.length - 1024);
  const header = Buffer.alloc(512);
  header.write("rootfs/usr/local/bomb", 0, "latin1");
  header.write("0000644\0", 100, "latin1");
  header.write("0000000\0", 108, "latin1");
  header.write("0000000\0", 116, "latin1");
  header.write(BOMB_BYTES.toString(8).padStart(11, "0") + "\0", 124, "latin1");
  header.write("00000000000\0", 136, "latin1");
  header.write("        ", 148, "latin1");
  header.write("0", 156, "latin1");
  header.write("ustar\0" + "00", 257, "latin1");
  let sum = 0;
  for (const b of header) sum += b;
  header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  const mib = gzipSync(Buffer.alloc(1 << 20));
  const members = [gzipSync(Buffer.concat([body, header]))];
  for (let i = 0; i < BOMB_BYTES / (1 << 20); i++) members.push(mib);
  members.push(gzipSync(Buffer.alloc(1024)));
  return Buffer.concat(members);
}

/** A layer file of exactly `blob` (named by its digest) in `dir`. */
async function rawLayer(blob: Buffer, tar: Buffer, dir: string): Promise<BuiltLayer> {
  const hex = createHash("sha256").update(blob).digest("hex");
  const path = join(dir, hex);
  await writeFile(path, blob);
  return {
    path,
    descriptor: {
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest: `sha256:${hex}`,
      size: blob.length,
    },
    diffId: `sha256:${createHash("sha256").update(tar).digest("hex")}`,
  };
}

let release = "";
let work = "";
let layoutDir = "";
let cacheDir = "";

/** Runs the imager inside the work directory; resolves with exit code and console output. */
async function imager(ext: string, out: string): Promise<{ code: number | null; stderr: string }> {
  const r = await runImager(["iso", "--output-kind", "initramfs", "--arch", "amd64"], {
    version: "v1.11.0",
    source: `oci-layout:${layoutDir}`,
    cacheDir,
    out,
    sourceDateEpoch: "1700000000",
    extra: ["--system-extension-image", ext],
    cwd: work,
    env: { TMPDIR: join(work, "tmp") },
    timeoutMs: RUN_TIMEOUT_MS,
  });
  return { code: r.code, stderr: r.stderr };
}

/** Every path under `dir` (relative), never following symlinks (extracted trees hold absolute ones). */
async function tree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    out.push(r);
    if (e.isDirectory()) out.push(...(await tree(dir, r)));
  }
  return out.sort();
}

before(async () => {
  release = await fixtureRelease();
  work = await mkdtemp(join(tmpdir(), "bootforge-hostile-ext-"));
  layoutDir = join(work, "layout");
  cacheDir = join(work, "cache");
  // Hard links (GNU cp -l): the release's blobs are shared, not copied; index.json is replaced
  // by a fresh file as images are added, so the fixture release itself is never modified.
  await run("cp", ["-al", release, layoutDir]);
  await rm(join(layoutDir, "index.json"));
  await cp(join(release, "index.json"), join(layoutDir, "index.json"));
  await mkdir(join(work, "tmp"));
  const layout = await OciLayout.open(layoutDir);
  const layers = join(work, "layers");
  await mkdir(layers);
  // A host file an extension must never be able to pull into a build through a symlink.
  await writeFile(join(work, "host-secret"), `${SECRET}\n`);
  const leak = await buildLayer(
    [
      ...base("firmware-leak"),
      { path: "rootfs/usr/lib", type: "directory" },
      { path: "rootfs/usr/lib/firmware", type: "directory" },
      { path: "rootfs/usr/lib/firmware/leak.bin", type: "symlink", linkname: join(work, "host-secret") },
    ],
    layers,
    { keepOrder: true },
  );
  await writeImage(
    layout,
    assembleImage({ layers: [leak], platform: { os: "linux", architecture: "amd64" } }),
    { tag: "siderolabs/hostile-firmware-leak:1" },
  );
  for (const c of CASES) {
    const entries = [...base(c.name), ...c.entries];
    const layer =
      c.raw === undefined
        ? await buildLayer(entries, layers, { keepOrder: true })
        : await (async () => {
            const chunks: Buffer[] = [];
            for await (const c of tarStream(entries, { keepOrder: true })) chunks.push(c as Buffer);
            const tar = Buffer.concat(chunks);
            return rawLayer(c.raw!(tar), tar, layers);
          })();
    const image = assembleImage({ layers: [layer], platform: { os: "linux", architecture: "amd64" } });
    await writeImage(layout, image, { tag: `siderolabs/hostile-${c.name}:1` });
  }
});
after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("hostile extension images through the imager CLI", () => {
  for (const c of CASES) {
    it(`${c.name}: ${c.expect}, exit ${c.code}, nothing escaped`, async () => {
      const out = join(work, `out-${c.name}`);
      const r = await imager(`ghcr.io/siderolabs/hostile-${c.name}:1`, out);
      const last = r.stderr.trimEnd().split("\n").pop() ?? "";
      assert.equal(r.code, c.code, r.stderr);
      assert.match(last, c.message, r.stderr);
      assert.ok(!/\n\s+at /.test(r.stderr), "no stack trace");
      if (r.code !== 0) assert.deepEqual(await tree(out), [], "no (partial) output");
      // No half-extracted trees left in the cache, no device nodes, nothing where the layer pointed.
      assert.deepEqual(
        (await tree(cacheDir)).filter((p) => /\.tmp-/.test(p)),
        [],
      );
      const specials = await run("find", [
        cacheDir,
        "(",
        "-type",
        "b",
        "-o",
        "-type",
        "c",
        "-o",
        "-type",
        "p",
        ")",
      ]);
      assert.equal(specials.stdout, "", "no device nodes or FIFOs extracted");
      for (const escaped of [
        "/escape-traversal",
        "/tmp/escape-absolute",
        "/escape-dir",
        "/tmp/escape-through-link",
      ])
        await assert.rejects(readFile(escaped), `${escaped} must not exist`);
      const outside = (await tree(work)).filter((p) => p.includes("escape-") && !p.startsWith("cache/"));
      assert.deepEqual(outside, [], "no escape-* file outside the extracted image trees");
    });
  }

  it(
    "an absolute firmware symlink is copied as a symlink, never as the host file it points at",
    {},
    async () => {
      const out = join(work, "out-leak");
      const r = await imager("ghcr.io/siderolabs/hostile-firmware-leak:1", out);
      // The build succeeds: a firmware symlink is staged as a symlink (as upstream copies it),
      // whatever it points at; the initramfs is read back member by member.
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr.trimEnd().split("\n").pop() ?? "", /output asset path: /);
      const built = await tree(out);
      assert.deepEqual(built, ["initramfs-metal-amd64.xz"]);
      const leaked: string[] = [];
      const members: CpioMember[] = [];
      await readCpioFile(join(out, built[0]!), (m) => {
        members.push(m);
        if ((m.mode & 0o170000) !== S_IFREG) return "skip";
        let tail = "";
        return new Writable({
          write(chunk: Buffer, _enc, cb) {
            const text = tail + chunk.toString("latin1");
            if (text.includes(SECRET)) leaked.push(m.name);
            tail = text.slice(-SECRET.length);
            cb();
          },
        });
      });
      const link = members.find((m) => m.name === "usr/lib/firmware/leak.bin");
      assert.ok(link, `the firmware entry is in the initramfs: ${members.map((m) => m.name).join(" ")}`);
      assert.equal(link.mode & 0o170000, 0o120000, "a symlink");
      assert.equal(link.target, join(work, "host-secret"));
      assert.deepEqual(leaked, [], "members holding the host file's content");
    },
  );

  it("refusals name the extension image", {}, async () => {
    const r = await imager("ghcr.io/siderolabs/hostile-traversal:1", join(work, "out-named"));
    assert.match(r.stderr.trimEnd().split("\n").pop() ?? "", /ghcr\.io\/siderolabs\/hostile-traversal:1/);
  });
});

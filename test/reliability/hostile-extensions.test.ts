/**
 * Hostile system extension images through the imager CLI: layers with path traversal, symlinks
 * escaping the root (and writes through them), hard links outside, device nodes, malformed layers
 * and a compressed bomb. Each must end with a one-line cause and an upstream exit code, leave no
 * output file, no half-extracted tree in the cache, and nothing outside the work directory.
 * (Hostile overlay installers are covered by `test/overlay/installer-protocol.test.ts`.)
 *
 * The images live in a scratch OCI layout beside a hard-linked copy of the fixture release, named
 * as release images (`--system-extension-image ghcr.io/siderolabs/hostile-<case>:1`): only the
 * release's own references are looked up in a layout release source, and no test reaches out.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { assembleImage, writeImage } from "../../src/oci/image-builder.js";
import { buildLayer, type LayerEntry } from "../../src/oci/layer-builder.js";
import { OciLayout } from "../../src/oci/layout.js";
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
];

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
    const layer = await buildLayer([...base(c.name), ...c.entries], layers, { keepOrder: true });
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

  it("an absolute firmware symlink does not copy a host file into the initramfs", {}, async () => {
    const out = join(work, "out-leak");
    const r = await imager("ghcr.io/siderolabs/hostile-firmware-leak:1", out);
    const built = (await tree(out)).filter((p) => p.endsWith(".xz"));
    // Refused is fine: nothing could leak. (The initramfs is zstd despite its .xz name on ≥ 1.10.)
    if (r.code !== 0 || built.length === 0) return;
    const { stdout } = await run("bash", [
      "-c",
      `(zstd -dcq "$0" || xz -dc "$0") | grep -ac "$1" || true`,
      join(out, built[0]!),
      SECRET,
    ]);
    assert.equal(stdout.trim(), "0", "the host file's content is in the initramfs");
  });

  it("refusals name the extension image", {}, async () => {
    const r = await imager("ghcr.io/siderolabs/hostile-traversal:1", join(work, "out-named"));
    assert.match(r.stderr.trimEnd().split("\n").pop() ?? "", /ghcr\.io\/siderolabs\/hostile-traversal:1/);
  });
});

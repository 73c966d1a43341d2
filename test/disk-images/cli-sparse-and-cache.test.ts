/**
 * Disk images through the imager CLI against the fixture release, checked with the filesystem
 * tools: a 4247 MiB sparse raw `metal` image (holes never written, small peak RSS), and
 * `--image-cache` with a cache in the upstream layout (`talosctl images cache-create`: blob/ and
 * manifests/<registry>/<repo>/{reference,digest}/) landing in the ext4 IMAGECACHE partition of a
 * disk image and under /imagecache on an ISO.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease } from "../../fixtures/index.js";
import { runImager, type ImagerRun } from "../helpers/run-imager.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const VERSION = "v1.11.0";
const MIB = 1024 * 1024;
const cacheDir = join(REPO, ".cache", "imager-test");
/** The cached image: a multi-arch index in the fixture release. */
const CACHED = { registry: "ghcr.io", repo: "siderolabs/bootforge-hello", tag: "1.0.0" };

let release = "";
let scratch = "";

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-disk-cli-"));
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function imager(args: string[], out: string, o: { stdin?: string; measureRss?: boolean } = {}) {
  return runImager(args, {
    source: `oci-layout:${release}`,
    version: o.stdin === undefined ? VERSION : undefined,
    stdin: o.stdin,
    cacheDir,
    out,
    sourceDateEpoch: EPOCH,
    measureRss: o.measureRss ?? false,
  });
}

function tool(cmd: string, args: string[], okCodes = [0]): string {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: 300_000,
    env: { ...process.env, LC_ALL: "C" },
  });
  assert.ok(
    okCodes.includes(r.status ?? -1),
    `${cmd} ${args.join(" ")}: ${r.status}\n${r.stdout}${r.stderr}`,
  );
  return r.stdout;
}

function assertOk(r: ImagerRun, lines: string[]): void {
  assert.equal(r.code, 0, r.stderr);
  const top = r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith(" "));
  let at = -1;
  for (const l of lines) {
    const i = top.indexOf(l, at + 1);
    assert.ok(i > at, `missing or out of order ${JSON.stringify(l)} in\n${r.stderr}`);
    at = i;
  }
}

interface Part {
  name: string;
  start: number;
  size: number;
}

/** The GPT as util-linux's sfdisk reads it (bytes), after `sgdisk -v` accepted it. */
function partitions(raw: string): Part[] {
  assert.match(tool("sgdisk", ["-v", raw]), /No problems found/);
  const t = JSON.parse(tool("sfdisk", ["--json", raw])) as {
    partitiontable: {
      label: string;
      sectorsize?: number;
      partitions: { start: number; size: number; name?: string }[];
    };
  };
  assert.equal(t.partitiontable.label, "gpt");
  const sector = t.partitiontable.sectorsize ?? 512;
  return t.partitiontable.partitions.map((p) => ({
    name: p.name ?? "",
    start: p.start * sector,
    size: p.size * sector,
  }));
}

/** Copies one partition out of the disk (sparse) for its filesystem checker. */
function cut(raw: string, p: Part): string {
  const out = join(scratch, `${p.name}.part`);
  tool("dd", [
    `if=${raw}`,
    `of=${out}`,
    "bs=1M",
    "iflag=skip_bytes,count_bytes",
    `skip=${p.start}`,
    `count=${p.size}`,
    "conv=sparse",
    "status=none",
  ]);
  return out;
}

/** Runs each partition's own checker: vfat, xfs and ext4 read-only, without repairs. */
async function checkFilesystems(raw: string, parts: Part[]): Promise<void> {
  for (const p of parts) {
    const checker: [string, string[]] | undefined =
      p.name === "EFI"
        ? ["fsck.vfat", ["-n"]]
        : p.name === "BOOT"
          ? ["xfs_repair", ["-n"]]
          : p.name === "IMAGECACHE"
            ? ["e2fsck", ["-fn"]]
            : undefined;
    if (!checker) continue;
    const file = cut(raw, p);
    tool(checker[0], [...checker[1], file]);
    await rm(file);
  }
}

test("a 4247 MiB metal raw is sparse and built in under 300 MiB of memory", async () => {
  // The metal profile with outFormat raw (upstream has no flag for it; a stdin profile does it),
  // so the imager's own file is what is measured, not a decompressor's.
  const out = join(scratch, "sparse");
  const profile = [
    "baseProfileName: metal",
    "arch: amd64",
    `version: ${VERSION}`,
    "output:",
    "  kind: image",
    "  outFormat: raw",
    "",
  ].join("\n");
  const r = await imager(["-"], out, { stdin: profile, measureRss: true });
  const raw = join(out, "metal-amd64.raw");
  assertOk(r, ["creating disk image...", "disk image ready", `output asset path: ${raw}`]);
  assert.match(r.stderr, /^ {4}creating raw disk of size 4\.5 GB$/m);
  const st = await stat(raw);
  assert.equal(st.size, 4247 * MIB);
  assert.ok(st.size >= 4 * 1024 * MIB);
  const allocated = st.blocks * 512;
  assert.ok(allocated < 128 * MIB, `${allocated} bytes allocated of ${st.size}`);
  const peak = r.maxRssKiB ?? Infinity;
  assert.ok(peak < 300 * 1024, `peak RSS ${Math.round(peak / 1024)} MiB`);

  const info = JSON.parse(tool("qemu-img", ["info", "--output=json", raw])) as {
    format: string;
    "virtual-size": number;
    "actual-size": number;
  };
  assert.equal(info.format, "raw");
  assert.equal(info["virtual-size"], st.size);
  assert.ok(info["actual-size"] < 128 * MIB);
  const parts = partitions(raw);
  assert.deepEqual(
    parts.map((p) => p.name),
    ["EFI", "BIOS", "BOOT", "META"],
  );
  await checkFilesystems(raw, parts);
  await rm(out, { recursive: true, force: true });
});

/** The upstream image-cache tree for one image (linux/amd64), as `talosctl images cache-create --layout flat` writes it. */
async function cacheTree(dir: string): Promise<{ files: Map<string, Buffer> }> {
  const blob = async (digest: string) => readFile(join(release, "blobs", ...digest.split(":")));
  const index = JSON.parse(await readFile(join(release, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const top = index.manifests.find(
    (m) => m.annotations?.["org.opencontainers.image.ref.name"] === `${CACHED.repo}:${CACHED.tag}`,
  );
  assert.ok(top);
  const files = new Map<string, Buffer>();
  const manifests = `manifests/${CACHED.registry}/${CACHED.repo}`;
  const dash = (d: string) => d.replace(":", "-");
  const topBytes = await blob(top.digest);
  files.set(`${manifests}/reference/${CACHED.tag}`, topBytes);
  files.set(`${manifests}/digest/${dash(top.digest)}`, topBytes);
  let manifest = JSON.parse(topBytes.toString()) as {
    manifests?: { digest: string; platform?: { architecture: string } }[];
    config?: { digest: string };
    layers?: { digest: string }[];
  };
  if (manifest.manifests) {
    const amd = manifest.manifests.find((m) => m.platform?.architecture === "amd64");
    assert.ok(amd);
    const bytes = await blob(amd.digest);
    files.set(`${manifests}/digest/${dash(amd.digest)}`, bytes);
    manifest = JSON.parse(bytes.toString()) as typeof manifest;
  }
  for (const d of [manifest.config!.digest, ...manifest.layers!.map((l) => l.digest)])
    files.set(`blob/${dash(d)}`, await blob(d));
  for (const [path, bytes] of files) {
    await mkdir(join(dir, path, ".."), { recursive: true });
    await writeFile(join(dir, path), bytes);
  }
  return { files };
}

/**
 * Packages a tree as upstream's default `oci` layout does: one image, one gzip'd layer of the tree,
 * here assembled as a skopeo `dir:` image and copied into an OCI layout by skopeo.
 */
async function packageCache(tree: string, layout: string): Promise<void> {
  const d = join(scratch, "cache-dir-image");
  await mkdir(d, { recursive: true });
  const layerTar = join(scratch, "cache-layer.tar");
  tool("tar", [
    "-cf",
    layerTar,
    "-C",
    tree,
    "--sort=name",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "--mtime=@0",
    ...(await readdir(tree)).sort(),
  ]);
  const tarBytes = await readFile(layerTar);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  tool("gzip", ["-n", "-f", layerTar]);
  const gz = await readFile(`${layerTar}.gz`);
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      config: {},
      rootfs: { type: "layers", diff_ids: [`sha256:${sha(tarBytes)}`] },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: `sha256:${sha(config)}`,
        size: config.length,
      },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          digest: `sha256:${sha(gz)}`,
          size: gz.length,
        },
      ],
    }),
  );
  await writeFile(join(d, sha(config)), config);
  await copyFile(`${layerTar}.gz`, join(d, sha(gz)));
  await writeFile(join(d, "manifest.json"), manifest);
  await writeFile(join(d, "version"), "Directory Transport Version: 1.1\n");
  tool("skopeo", ["copy", "-q", `dir:${d}`, `oci:${layout}:cache`]);
}

test("--image-cache: the upstream cache layout in the IMAGECACHE partition and under /imagecache", async () => {
  const tree = join(scratch, "cache-tree");
  const { files } = await cacheTree(tree);
  const layout = join(scratch, "cache-layout");
  await packageCache(tree, layout);

  // disk image: metal (.raw.zst) with the cache
  const out = join(scratch, "cache-metal");
  const r = await imager(["metal", "--arch", "amd64", "--image-cache", layout], out);
  const raw = join(out, "metal-amd64.raw");
  assertOk(r, ["disk image ready", `output asset path: ${raw}`, `compression done: ${raw}.zst`]);
  assert.match(r.stderr, /^ {4}updating image size to accommodate image cache: \+/m);
  tool("zstd", ["-d", "-q", "--sparse", "-o", raw, `${raw}.zst`]);
  const parts = partitions(raw);
  assert.deepEqual(
    parts.map((p) => p.name),
    ["EFI", "BIOS", "BOOT", "META", "IMAGECACHE"],
  );
  await checkFilesystems(raw, parts);
  const part = cut(
    raw,
    parts.find((p) => p.name === "IMAGECACHE")!,
  );
  await rm(out, { recursive: true, force: true });
  assert.match(tool("dumpe2fs", ["-h", part]), /^Filesystem volume name:\s+IMAGECACHE$/m);
  // every file of the tree, byte for byte, read back by debugfs
  const back = join(scratch, "cache-back");
  await mkdir(back);
  for (const [path, bytes] of files) {
    const dest = join(back, path.replaceAll("/", "_"));
    tool("debugfs", ["-R", `dump /${path} ${dest}`, part]);
    assert.ok((await readFile(dest)).equals(bytes), `${path} differs in IMAGECACHE`);
  }
  await rm(part);

  // ISO: the same tree under /imagecache
  const isoOut = join(scratch, "cache-iso");
  const ri = await imager(["iso", "--arch", "amd64", "--image-cache", layout], isoOut);
  const iso = join(isoOut, "metal-amd64.iso");
  assertOk(ri, ["ISO ready", `output asset path: ${iso}`]);
  const listed = tool("xorriso", ["-indev", iso, "-find", "/imagecache", "-type", "f"]);
  const isoFiles = [...listed.matchAll(/'\/imagecache\/([^']+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(isoFiles, [...files.keys()].sort());
  const ref = [...files.keys()].find((f) => f.includes("/reference/"))!;
  const extracted = join(scratch, "iso-ref");
  tool("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", `/imagecache/${ref}`, extracted]);
  assert.ok((await readFile(extracted)).equals(files.get(ref)!));
});

test("1.9 (GRUB era): metal image and ISO build, with the UKI they do not use", async () => {
  // Upstream builds a UKI from 1.5 on; before 1.10 it has no extra profiles (this used to fail).
  const opts = { source: `oci-layout:${release}`, version: "v1.9.0", cacheDir, sourceDateEpoch: EPOCH };
  const out = join(scratch, "v19");
  const [img, iso] = await Promise.all([
    runImager(["metal", "--arch", "amd64"], { ...opts, out: join(out, "img") }),
    runImager(["iso", "--arch", "amd64"], { ...opts, out: join(out, "iso") }),
  ]);
  const raw = join(out, "img", "metal-amd64.raw");
  assertOk(img, [
    "UKI ready",
    "disk image ready",
    `output asset path: ${raw}`,
    `compression done: ${raw}.zst`,
  ]);
  tool("zstd", ["-d", "-q", "--sparse", "-o", raw, `${raw}.zst`]);
  assert.equal((await stat(raw)).size, 1246 * MIB);
  const parts = partitions(raw);
  assert.deepEqual(
    parts.map((p) => p.name),
    ["EFI", "BIOS", "BOOT", "META"],
  );
  await checkFilesystems(raw, parts);
  const isoPath = join(out, "iso", "metal-amd64.iso");
  assertOk(iso, ["UKI ready", "ISO ready", `output asset path: ${isoPath}`]);
  const listed = tool("xorriso", ["-indev", isoPath, "-find", "/boot", "-type", "f"]);
  assert.match(listed, /'\/boot\/vmlinuz'/);
  assert.match(listed, /'\/boot\/grub\/grub\.cfg'/);
  await rm(out, { recursive: true, force: true });
});

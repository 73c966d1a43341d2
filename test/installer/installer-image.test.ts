/**
 * Installer images from the fixture release's base images: docker-archive layout, layer choice
 * (first base layer only when the base has two), artifacts per version, the overlay layer,
 * config from the base, reproducibility; checked with skopeo and by reading the tar back.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { after, before, test } from "node:test";
import tar from "tar-stream";
import { ensureFixtureRelease, fixtureBootFiles, OVERLAY } from "../../fixtures/index.js";
import { buildInstallerImage } from "../../src/imager/installer/index.js";
import { extractOverlayImage, openOverlay } from "../../src/imager/overlay/index.js";
import { OciLayout } from "../../src/oci/layout.js";

let release = "";
let dir = "";
before(async () => {
  release = (await ensureFixtureRelease()).dir;
  dir = await mkdtemp(join(tmpdir(), "bootforge-installer-test-"));
});
after(async () => rm(dir, { recursive: true, force: true }));

function skopeo(...args: string[]): unknown {
  const r = spawnSync("skopeo", ["inspect", ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Entries (name, mode, mtime, type) of a tar(.gz) file. */
async function tarEntries(path: string, gz: boolean) {
  const ex = tar.extract();
  const out: { name: string; mode: number; mtime: number; type: string; uid: number }[] = [];
  const src = createReadStream(path);
  (gz ? src.pipe(createGunzip()) : src).pipe(ex);
  for await (const e of ex) {
    out.push({
      name: e.header.name,
      mode: e.header.mode ?? -1,
      mtime: e.header.mtime?.getTime() ?? -1,
      type: e.header.type ?? "",
      uid: e.header.uid ?? -1,
    });
    e.resume();
  }
  return out;
}

test("installer (1.11, UKI era) with the fixture overlay: layers, files, config, skopeo, reproducible", async () => {
  const layout = await OciLayout.open(release);
  const files = fixtureBootFiles(release, "v1.11.0", "amd64");
  const ovRoot = join(dir, "overlay");
  await extractOverlayImage(layout, `${OVERLAY.repo}:${OVERLAY.tag}`, ovRoot, {
    os: "linux",
    architecture: "amd64",
  });
  const ov = await openOverlay(ovRoot, OVERLAY.name);
  const opts = {
    base: { source: layout, ref: "siderolabs/installer-base:v1.11.0" },
    repoTag: "ghcr.io/siderolabs/installer-base:v1.11.0",
    arch: "amd64" as const,
    version: "v1.11.0",
    artifacts: { kind: "uki" as const, uki: files.stub, sdBoot: files.boot },
    overlay: { root: ov.root, installerName: ov.installerName, extraOptions: { configTxtAppend: "x=1" } },
    epoch: 1700000000,
    scratchDir: dir,
  };
  const a = join(dir, "installer-amd64.tar");
  const b = join(dir, "installer-amd64-b.tar");
  const r = await buildInstallerImage({ ...opts, output: a });
  await buildInstallerImage({ ...opts, output: b });
  assert.ok((await readFile(a)).equals(await readFile(b)), "reproducible");

  const top = await tarEntries(a, false);
  const baseLayers = (skopeo(`oci:${release}:siderolabs/installer-base:v1.11.0`) as { Layers: string[] })
    .Layers;
  assert.equal(r.layers.length, (baseLayers.length === 2 ? 1 : baseLayers.length) + 2);
  assert.deepEqual(
    top.map((e) => e.name),
    [r.configDigest, ...r.layers, "manifest.json"],
  );
  const info = skopeo(`docker-archive:${a}`) as {
    Architecture: string;
    Os: string;
    Created: string;
    Layers: string[];
  };
  assert.equal(info.Architecture, "amd64");
  assert.equal(info.Os, "linux");
  assert.equal(info.Created, "2023-11-14T22:13:20Z");
  assert.equal(info.Layers.length, r.layers.length);
  const cfg = skopeo("--config", `docker-archive:${a}`) as {
    config: unknown;
    rootfs: { diff_ids: string[] };
  };
  const baseCfg = skopeo("--config", `oci:${release}:siderolabs/installer-base:v1.11.0`) as {
    config: unknown;
  };
  assert.deepEqual(cfg.config, baseCfg.config, "runtime config copied from the base");

  // read the new layers back out of the archive
  const x = join(dir, "x");
  await mkdir(x);
  assert.equal(spawnSync("tar", ["-xf", a, "-C", x]).status, 0);
  const artifacts = await tarEntries(join(x, r.layers.at(-2)!), true);
  assert.deepEqual(artifacts, [
    { name: "usr/install/amd64/systemd-boot.efi", mode: 0, mtime: 0, type: "file", uid: 0 },
    { name: "usr/install/amd64/vmlinuz.efi", mode: 0, mtime: 0, type: "file", uid: 0 },
  ]);
  const overlay = await tarEntries(join(x, r.layers.at(-1)!), true);
  const names = overlay.map((e) => e.name);
  assert.ok(names.includes("overlay/installers/default"));
  assert.ok(names.includes("overlay/extra-options"));
  assert.ok(names.some((n) => n.startsWith("overlay/artifacts/")));
  assert.equal(overlay.find((e) => e.name === "overlay/installers/default")?.mode, 0o755);
  assert.deepEqual([...names].sort(), names, "sorted by path");
});

test("installer (1.9): kernel + initramfs artifacts; a two-layer base keeps only its first layer", async () => {
  const layout = await OciLayout.open(release);
  const files = fixtureBootFiles(release, "v1.9.0", "arm64");
  const out = join(dir, "installer-arm64.tar");
  const ref = "siderolabs/installer:v1.9.0";
  const base = skopeo("--override-arch", "arm64", `oci:${release}:${ref}`) as { Layers: string[] };
  const r = await buildInstallerImage({
    base: { source: layout, ref },
    arch: "arm64",
    version: "v1.9.0",
    artifacts: { kind: "kernel", kernel: files.vmlinuz, initramfs: files.initramfs },
    output: out,
    scratchDir: dir,
  });
  const expectedBase = base.Layers.length === 2 ? 1 : base.Layers.length;
  assert.equal(r.layers.length, expectedBase + 1);
  assert.equal(r.layers[0], `${base.Layers[0]!.slice("sha256:".length)}.tar.gz`);
  const x = join(dir, "x9");
  await mkdir(x);
  assert.equal(spawnSync("tar", ["-xf", out, "-C", x]).status, 0);
  const art = await tarEntries(join(x, r.layers.at(-1)!), true);
  assert.deepEqual(
    art.map((e) => e.name),
    ["usr/install/arm64/initramfs.xz", "usr/install/arm64/vmlinuz"],
  );
  const info = skopeo(`docker-archive:${out}`) as { Architecture: string };
  assert.equal(info.Architecture, "arm64");
});

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import tar from "tar-stream";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RegistryClient } from "./client.js";
import { anonymousKeychain } from "./credentials.js";
import { DockerArchive, writeDockerArchive } from "./docker-archive.js";
import { extractTar } from "./extract.js";
import { flattenImage } from "./flatten.js";
import { copyImage, resolveImage } from "./image.js";
import { writeIndex } from "./image-builder.js";
import { OciArchive, OciLayout } from "./layout.js";
import { writeOciArchive } from "./oci-archive.js";
import { parseReference } from "./reference.js";
import { RegistrySink, RegistrySource } from "./source.js";
import { multiArchFixture, type MultiArchFixture } from "./testing/fixtures.js";
import { startRegistry, type TestRegistry } from "./testing/registry.js";
import { exportImage, imageDigest, listTags, pushArchive } from "./tools.js";

const run = promisify(execFile);

async function tarListing(s: Readable): Promise<Map<string, string>> {
  const ex = tar.extract();
  const out = new Map<string, string>();
  const done = pipeline(s, ex as unknown as Writable);
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.set(
      e.header.name,
      e.header.type === "symlink"
        ? `-> ${e.header.linkname}`
        : e.header.type === "directory"
          ? "dir"
          : Buffer.concat(chunks).toString(),
    );
  }
  await done;
  return out;
}

describe("image formats", () => {
  let reg: TestRegistry;
  let fx: MultiArchFixture;
  let work: string;
  const client = () => new RegistryClient({ insecure: true, keychain: anonymousKeychain, retries: 1 });

  before(async () => {
    [reg, fx, work] = await Promise.all([
      startRegistry("none"),
      multiArchFixture(),
      mkdtemp(join(tmpdir(), "bootforge-formats-")),
    ]);
    await writeIndex(
      new RegistrySink(client(), parseReference(`${reg.host}/talos/imager`)),
      fx.images,
      fx.index,
      "v1.0.0",
    );
  });
  after(async () => {
    await reg.stop();
    await rm(fx.dir, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  test("flatten applies whiteouts and opaque dirs (like crane export)", async () => {
    const src = new RegistrySource(client(), parseReference(`${reg.host}/talos/imager`));
    for (const arch of ["amd64", "arm64"]) {
      const img = await resolveImage(src, "v1.0.0", { os: "linux", architecture: arch });
      const files = await tarListing(flattenImage(img));
      assert.equal(files.get("usr/bin/tool"), `v2 ${arch}\n`, "top layer wins");
      assert.equal(files.get("usr/bin/sh"), "-> tool");
      assert.equal(files.get("etc/os-release"), "ID=bootforge\n");
      assert.ok(!files.has("etc/gone"), "whiteout deletes");
      assert.ok(!files.has("opt/old/a"), "opaque dir hides lower contents");
      assert.equal(files.get("opt/old/b"), "new\n", "opaque dir keeps its own layer");
      assert.ok(![...files.keys()].some((k) => k.includes(".wh.")), "no whiteout markers in output");
    }
  });

  test("OCI layout: write several tagged images, skopeo reads it, read back, copy to a registry", async () => {
    const dir = join(work, "layout");
    const layout = await OciLayout.create(dir);
    const src = new RegistrySource(client(), parseReference(`${reg.host}/talos/imager`));
    await copyImage(src, "v1.0.0", layout, { tag: "v1.0.0" });
    await copyImage(src, "v1.0.0", layout, {
      tag: "amd64-only",
      platform: { os: "linux", architecture: "amd64" },
    });
    assert.deepEqual((await layout.tags()).sort(), ["amd64-only", "v1.0.0"]);
    const { stdout } = await run("skopeo", ["inspect", "--raw", `oci:${dir}:v1.0.0`]);
    assert.equal(stdout, fx.index.bytes.toString());
    const { stdout: one } = await run("skopeo", ["inspect", "--raw", `oci:${dir}:amd64-only`]);
    assert.equal(one, fx.images[0]?.manifest.bytes.toString());
    // Re-tagging replaces the name, it does not duplicate it.
    await copyImage(src, "v1.0.0", layout, {
      tag: "amd64-only",
      platform: { os: "linux", architecture: "arm64" },
    });
    assert.equal((await layout.index()).manifests.length, 2);
    const reopened = await OciLayout.open(dir);
    const img = await resolveImage(reopened, "amd64-only", { os: "linux", architecture: "arm64" });
    assert.equal(img.descriptor.digest, fx.images[1]?.manifest.digest);
    assert.ok(
      !(await readdir(join(dir, "blobs", "sha256"))).some((n) => n.includes(".tmp")),
      "no temp files left",
    );
    await copyImage(
      reopened,
      "v1.0.0",
      new RegistrySink(client(), parseReference(`${reg.host}/from/layout`)),
      { tag: "x" },
    );
    assert.equal(
      await imageDigest(`${reg.host}/from/layout:x`, { insecure: true, keychain: anonymousKeychain }),
      fx.index.digest,
    );
  });

  test("skopeo writes an OCI layout and an OCI tar of a multi-arch image; we read both", async () => {
    const dir = join(work, "skopeo-layout");
    await run("skopeo", [
      "copy",
      "--all",
      "--src-tls-verify=false",
      `docker://${reg.host}/talos/imager:v1.0.0`,
      `oci:${dir}:rel`,
    ]);
    const layout = await OciLayout.open(dir);
    assert.equal((await layout.resolve("rel")).digest, fx.index.digest);
    const archive = join(work, "skopeo.oci.tar");
    await run("skopeo", [
      "copy",
      "--all",
      "--src-tls-verify=false",
      `docker://${reg.host}/talos/imager:v1.0.0`,
      `oci-archive:${archive}:rel`,
    ]);
    const oa = await OciArchive.open(archive);
    const img = await resolveImage(oa, "rel", { os: "linux", architecture: "arm64", variant: "v8" });
    assert.equal(img.descriptor.digest, fx.images[1]?.manifest.digest);
    const files = await tarListing(flattenImage(img));
    assert.equal(files.get("usr/bin/tool"), "v2 arm64\n");
  });

  test("OCI tar we write: skopeo reads it, deterministic bytes, push it back", async () => {
    const src = new RegistrySource(client(), parseReference(`${reg.host}/talos/imager`));
    const a = join(work, "a.oci.tar");
    const b = join(work, "b.oci.tar");
    await writeOciArchive(createWriteStream(a), [{ source: src, ref: "v1.0.0", name: "v1.0.0" }]);
    await writeOciArchive(createWriteStream(b), [{ source: src, ref: "v1.0.0", name: "v1.0.0" }]);
    assert.deepEqual(await readFile(a), await readFile(b), "equal inputs give equal bytes");
    const { stdout } = await run("skopeo", ["inspect", "--raw", `oci-archive:${a}:v1.0.0`]);
    assert.equal(stdout, fx.index.bytes.toString());
    const digest = await pushArchive(a, `${reg.host}/pushed/oci:v2`, {
      insecure: true,
      keychain: anonymousKeychain,
    });
    assert.equal(digest, fx.index.digest);
  });

  test("docker-archive: we write, skopeo reads and pushes; skopeo writes, we read and push", async () => {
    const src = new RegistrySource(client(), parseReference(`${reg.host}/talos/imager`));
    const ours = join(work, "ours.docker.tar");
    await writeDockerArchive(createWriteStream(ours), [
      {
        source: src,
        ref: "v1.0.0",
        platform: { os: "linux", architecture: "amd64" },
        repoTags: ["ghcr.io/siderolabs/installer-base:v1.0.0"],
      },
    ]);
    const { stdout } = await run("skopeo", ["inspect", `docker-archive:${ours}`]);
    const info = JSON.parse(stdout) as { Architecture: string; Layers: string[] };
    assert.equal(info.Architecture, "amd64");
    // skopeo lists a docker-archive's layers by their uncompressed digests (the config's diff IDs).
    assert.deepEqual(
      info.Layers,
      fx.images[0]?.layers.map((l) => l.diffId),
    );
    const da = await DockerArchive.open(ours);
    assert.deepEqual(da.tags(), ["ghcr.io/siderolabs/installer-base:v1.0.0"]);
    const img = await resolveImage(da, "v1.0.0", { os: "linux", architecture: "amd64" });
    assert.equal(img.config.architecture, "amd64");
    const pushed = await pushArchive(ours, `${reg.host}/pushed/docker:amd64`, {
      insecure: true,
      keychain: anonymousKeychain,
    });
    const { stdout: raw } = await run("skopeo", [
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${reg.host}/pushed/docker:amd64`,
    ]);
    assert.equal(
      (JSON.parse(raw) as { mediaType: string }).mediaType,
      "application/vnd.docker.distribution.manifest.v2+json",
    );
    assert.match(pushed, /^sha256:/);
    const theirs = join(work, "theirs.docker.tar");
    await run("skopeo", [
      "copy",
      "--src-tls-verify=false",
      "--override-arch",
      "amd64",
      `docker://${reg.host}/talos/imager:v1.0.0`,
      `docker-archive:${theirs}:example.com/x:y`,
    ]);
    const out = join(work, "export.tar");
    await exportImage(`docker-archive:${theirs}:y`, createWriteStream(out), { platform: "linux/amd64" });
    const dest = join(work, "rootfs");
    await (await import("node:fs/promises")).mkdir(dest);
    await extractTar((await import("node:fs")).createReadStream(out), dest);
    assert.equal(await readFile(join(dest, "usr/bin/tool"), "utf8"), "v2 amd64\n");
    assert.equal(await readlink(join(dest, "usr/bin/sh")), "tool");
    assert.deepEqual(
      await listTags(`${reg.host}/pushed/docker`, { insecure: true, keychain: anonymousKeychain }),
      ["amd64"],
    );
  });
});

/** Single flight, back-pressure and the /v2 installer registry (pulled with skopeo). */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { EMPTY_ID, startFactory, type TestFactory } from "./harness.js";
import { FakePipeline } from "./fake-pipeline.js";

const run = promisify(execFile);

describe("builds: single flight and the bounded queue", () => {
  let f: TestFactory;
  const pipeline = new FakePipeline(1500);
  before(async () => {
    f = await startFactory({ build: { maxConcurrency: 1, maxQueue: 1, retryAfterSeconds: 7 } }, { pipeline });
    await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
  });
  after(async () => f.stop());

  it("50 concurrent first requests for one asset build it once", async () => {
    const path = `${f.url}/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`;
    const res = await Promise.all(
      Array.from({ length: 50 }, () => fetch(path).then(async (r) => [r.status, await r.text()] as const)),
    );
    assert.ok(
      res.every(([s]) => s === 200),
      JSON.stringify(res.map(([s]) => s)),
    );
    assert.equal(new Set(res.map(([, t]) => t)).size, 1);
    assert.equal(pipeline.builds.get("uki"), 1);
    const metrics = await (await fetch(`${f.url}/metrics`)).text();
    assert.match(
      metrics,
      /^image_factory_assets_built_total\{output_kind="uki",talos_version="v1.11.0",arch="amd64"\} 1$/m,
    );
  });

  it("a full queue answers 503 with Retry-After", async () => {
    // One running + one waiting fill the queue; a third distinct asset is refused.
    const paths = ["metal-arm64-uki.efi", "nocloud-amd64-uki.efi", "nocloud-arm64-uki.efi"].map(
      (p) => `${f.url}/image/${EMPTY_ID}/v1.11.0/${p}`,
    );
    const q = f.factory.queue;
    const until = async (cond: () => boolean) => {
      for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(cond(), "queue reached the expected state");
    };
    const first = fetch(paths[0]!);
    await until(() => q.active === 1);
    const second = fetch(paths[1]!);
    await until(() => q.pending === 1);
    const third = await fetch(paths[2]!);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "7");
    assert.equal(await third.text(), "build queue is full, retry later\n");
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
  });
});

describe("registry front end", () => {
  let f: TestFactory;
  let out: string;
  const pipeline = new FakePipeline();
  before(async () => {
    f = await startFactory({}, { pipeline });
    await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
    out = await mkdtemp(join(tmpdir(), "bootforge-skopeo-"));
  });
  after(async () => {
    await f.stop();
    await rm(out, { recursive: true, force: true });
  });
  const host = () => f.url.replace(/^http:\/\//, "");

  it("skopeo copies metal-installer/<id>:<v> for both architectures from an OCI index", async () => {
    const ref = `docker://${host()}/metal-installer/${EMPTY_ID}:v1.11.0`;
    const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", "--raw", ref], {
      timeout: 60_000,
    });
    const index = JSON.parse(stdout) as {
      mediaType: string;
      manifests: Array<{ platform: { os: string; architecture: string } }>;
    };
    assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(
      index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      ["linux/amd64", "linux/arm64"],
    );
    for (const arch of ["amd64", "arm64"]) {
      const dest = join(out, arch);
      await run("skopeo", ["copy", "--src-tls-verify=false", "--override-arch", arch, ref, `oci:${dest}:x`], {
        timeout: 60_000,
      });
      const layoutIndex = JSON.parse(await readFile(join(dest, "index.json"), "utf8")) as {
        manifests: unknown[];
      };
      assert.equal(layoutIndex.manifests.length, 1);
    }
    const { stdout: cfg } = await run(
      "skopeo",
      ["inspect", "--tls-verify=false", "--no-tags", "--override-arch", "arm64", ref],
      { timeout: 60_000 },
    );
    const info = JSON.parse(cfg) as { Architecture: string; Layers: string[] };
    assert.equal(info.Architecture, "arm64");
    assert.equal(info.Layers.length, 2, "installer images have 2 layers (base + artifacts)");
    assert.equal(pipeline.builds.get("installer"), 2, "one build per architecture");
  });

  it("latest resolves to the newest stable version; repeat pulls do not rebuild", async () => {
    const pull = () =>
      fetch(`${f.url}/v2/metal-installer/${EMPTY_ID}/manifests/latest`, {
        headers: { accept: "application/vnd.oci.image.index.v1+json" },
      });
    const r = await pull();
    assert.equal(r.status, 200);
    assert.match(r.headers.get("docker-content-digest") ?? "", /^sha256:[0-9a-f]{64}$/);
    assert.equal(Number(r.headers.get("content-length")), (await r.arrayBuffer()).byteLength);
    // The newest fixture version (v1.12.0) is not the one pulled above: one build per arch, once.
    assert.equal(pipeline.builds.get("installer"), 4);
    const again = await pull();
    assert.equal(again.headers.get("docker-content-digest"), r.headers.get("docker-content-digest"));
    await again.arrayBuffer();
    assert.equal(pipeline.builds.get("installer"), 4);
  });

  it("route errors: ping, invalid image name, unknown schematic, unknown shapes, proxy", async () => {
    assert.equal((await fetch(`${f.url}/v2/`)).status, 200);
    const bad = await fetch(`${f.url}/v2/foo/${EMPTY_ID}/manifests/v1.11.0`);
    assert.equal(bad.status, 400);
    assert.equal(await bad.text(), "invalid image: foo\n");
    assert.equal((await fetch(`${f.url}/v2/installer/${"a".repeat(64)}/manifests/v1.11.0`)).status, 404);
    for (const p of [
      "/v2/siderolabs/nonexistent/manifests/v1.11.0",
      "/v2/a/b/c/manifests/v1",
      "/v2/siderolabs/installer/tags/v1",
    ]) {
      assert.equal((await fetch(`${f.url}${p}`)).status, 404, p);
    }
    const tags = (await (await fetch(`${f.url}/v2/siderolabs/imager/tags/list`)).json()) as {
      tags: string[];
    };
    assert.ok(tags.tags.includes("v1.11.0"));
    const { stdout } = await run(
      "skopeo",
      [
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        `docker://${host()}/siderolabs/installer-base:v1.11.0`,
      ],
      { timeout: 60_000 },
    );
    assert.equal((JSON.parse(stdout) as { Architecture: string }).Architecture, "arm64");
  });
});

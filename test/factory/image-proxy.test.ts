/**
 * The `/v2/siderolabs/<name>` image proxy with both kinds of release source: the fixture layout
 * directory and a registry (Debian `docker-registry` on loopback holding a pushed copy).
 * Manifests keep their digests, blobs verify, tags list, referrers answer an OCI index, and
 * skopeo reads an image through the factory; unknown images, tags and blobs are 404s.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { STAMP_FILE, type ReleaseManifest } from "../../fixtures/index.js";
import { pushLayout } from "../../fixtures/lib/push.js";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { fixtureRelease, startFactory, type TestFactory } from "./harness.js";

const exec = promisify(execFile);
const VERSION = "v1.11.0";
const IMAGE = "installer-base";
const INDEX = "application/vnd.oci.image.index.v1+json";

let refs: Record<string, string> = {};
let registry: TestRegistry | undefined;

before(async () => {
  const dir = await fixtureRelease();
  refs = (JSON.parse(await readFile(join(dir, STAMP_FILE), "utf8")) as ReleaseManifest).refs;
  registry = await startRegistry("none");
  // installer-base is one small layer per arch; enough to prove the path.
  await pushLayout(dir, registry.host, undefined, (ref) => ref === `siderolabs/${IMAGE}:${VERSION}`);
});
after(async () => {
  await registry?.stop();
});

for (const kind of ["layout", "registry"] as const) {
  describe(`image proxy, ${kind} release source`, () => {
    let f: TestFactory;
    before(async () => {
      const source =
        kind === "layout"
          ? {}
          : {
              release: {
                source: "registry",
                registry: registry!.host,
                insecure: true,
              },
            };
      f = await startFactory(source);
    });
    after(async () => {
      await f.stop();
    });
    const v2 = (path: string, init?: RequestInit) => fetch(`${f.url}/v2/siderolabs/${path}`, init);

    it("serves the index with its release digest, per-arch manifests and verified blobs", async () => {
      const r = await v2(`${IMAGE}/manifests/${VERSION}`, { headers: { accept: INDEX } });
      const bytes = Buffer.from(await r.arrayBuffer());
      assert.equal(r.status, 200);
      const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      assert.equal(digest, refs[`siderolabs/${IMAGE}:${VERSION}`]);
      assert.equal(r.headers.get("docker-content-digest"), digest);
      assert.equal(Number(r.headers.get("content-length")), bytes.length);
      const index = JSON.parse(bytes.toString()) as {
        manifests: { digest: string; platform: { architecture: string } }[];
      };
      assert.deepEqual(index.manifests.map((m) => m.platform.architecture).sort(), ["amd64", "arm64"]);
      const m = await v2(`${IMAGE}/manifests/${index.manifests[0]!.digest}`);
      assert.equal(m.status, 200);
      const manifest = (await m.json()) as { layers: { digest: string; size: number }[] };
      const layer = manifest.layers[0]!;
      const head = await v2(`${IMAGE}/blobs/${layer.digest}`, { method: "HEAD" });
      assert.equal(head.status, 200);
      assert.equal(Number(head.headers.get("content-length")), layer.size);
      const blob = Buffer.from(await (await v2(`${IMAGE}/blobs/${layer.digest}`)).arrayBuffer());
      assert.equal(`sha256:${createHash("sha256").update(blob).digest("hex")}`, layer.digest);
    });

    it("lists tags and answers referrers with an OCI index", async () => {
      const tags = (await (await v2(`${IMAGE}/tags/list`)).json()) as { name: string; tags: string[] };
      assert.equal(tags.name, `siderolabs/${IMAGE}`);
      assert.ok(tags.tags.includes(VERSION));
      const r = await v2(`${IMAGE}/referrers/${refs[`siderolabs/${IMAGE}:${VERSION}`]}`);
      assert.equal(r.status, 200);
      assert.equal(r.headers.get("content-type"), INDEX);
      assert.deepEqual(await r.json(), { schemaVersion: 2, mediaType: INDEX, manifests: [] });
    });

    it("skopeo reads the image through the factory", async () => {
      const host = f.url.replace(/^http:\/\//, "");
      const { stdout } = await exec("skopeo", [
        "inspect",
        "--tls-verify=false",
        "--override-arch",
        "arm64",
        `docker://${host}/siderolabs/${IMAGE}:${VERSION}`,
      ]);
      const info = JSON.parse(stdout) as { Architecture: string; Layers: string[] };
      assert.equal(info.Architecture, "arm64");
      assert.equal(info.Layers.length, 1);
    });

    it("answers 404 for unknown images, tags, blobs and shapes", async () => {
      const zero = `sha256:${"0".repeat(64)}`;
      for (const path of [
        `nonexistent/manifests/${VERSION}`,
        `${IMAGE}/manifests/v9.9.9`,
        `${IMAGE}/blobs/${zero}`,
        `${IMAGE}/blobs/not-a-digest`,
        `${IMAGE}/referrers/not-a-digest`,
        `installer/tags/v1`,
      ]) {
        const r = await v2(path);
        await r.arrayBuffer();
        assert.equal(r.status, 404, path);
      }
    });
  });
}

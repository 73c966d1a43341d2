import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { isBootforgeError } from "../errors/index.js";
import { RegistryClient } from "./client.js";
import { staticKeychain } from "./credentials.js";
import { copyImage, readSmallBlob, resolveImage } from "./image.js";
import { writeImage, writeIndex } from "./image-builder.js";
import { buildLayer } from "./layer-builder.js";
import { MediaTypes } from "./media-types.js";
import { parseReference } from "./reference.js";
import { RegistrySink, RegistrySource } from "./source.js";
import { multiArchFixture, type MultiArchFixture } from "./testing/fixtures.js";
import { startRegistry, type RegistryAuthMode, type TestRegistry } from "./testing/registry.js";

const run = promisify(execFile);

async function skopeoInspect(
  ref: string,
  extra: string[] = [],
): Promise<{ Digest: string; Tags?: string[] }> {
  const { stdout } = await run("skopeo", ["inspect", "--tls-verify=false", ...extra, `docker://${ref}`]);
  return JSON.parse(stdout) as { Digest: string };
}

for (const mode of ["none", "basic", "token"] as RegistryAuthMode[]) {
  describe(`registry round trip (auth: ${mode})`, () => {
    let reg: TestRegistry;
    let fx: MultiArchFixture;
    let client: RegistryClient;
    const creds = () => (mode === "none" ? [] : [`--creds=${reg.username}:${reg.password}`]);

    before(async () => {
      [reg, fx] = await Promise.all([startRegistry(mode), multiArchFixture()]);
      client = new RegistryClient({
        insecure: [reg.host],
        keychain: staticKeychain({ [reg.host]: { username: reg.username, password: reg.password } }),
        chunkSize: 1024,
        retries: 1,
      });
    });
    after(async () => {
      await reg.stop();
      await rm(fx.dir, { recursive: true, force: true });
    });

    test("push a multi-arch index; skopeo agrees on the digests; pull it back per platform", async () => {
      const repo = parseReference(`${reg.host}/talos/imager:v1.0.0`);
      await client.ping(reg.host);
      await writeIndex(new RegistrySink(client, repo), fx.images, fx.index, "v1.0.0");
      const { stdout: raw } = await run("skopeo", [
        "inspect",
        "--tls-verify=false",
        ...creds(),
        "--raw",
        `docker://${reg.host}/talos/imager:v1.0.0`,
      ]);
      assert.equal(raw, fx.index.bytes.toString());
      for (const arch of ["amd64", "arm64"]) {
        const info = await skopeoInspect(`${reg.host}/talos/imager:v1.0.0`, [
          ...creds(),
          "--override-arch",
          arch,
        ]);
        // skopeo reports the digest of what the tag names (the index), and the platform it picked.
        assert.equal(info.Digest, fx.index.digest);
        assert.equal((info as { Architecture?: string }).Architecture, arch);
      }
      const src = new RegistrySource(client, repo);
      const img = await resolveImage(src, "v1.0.0", { os: "linux", architecture: "arm64" });
      assert.equal(img.descriptor.digest, fx.images[1]?.manifest.digest);
      assert.equal(img.root.digest, fx.index.digest);
      assert.equal(img.config.architecture, "arm64");
      const layer = await readSmallBlob(src, img.manifest.layers[1]!);
      assert.equal(layer.length, img.manifest.layers[1]?.size);
      const head = await client.headManifest(repo);
      assert.equal(head?.digest, fx.index.digest);
      assert.equal(head?.mediaType, MediaTypes.ociIndex);
    });

    test("skopeo pushes, we read; tags paginate; cross-repo mount", async () => {
      await run("skopeo", [
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--src-tls-verify=false",
        ...(mode === "none"
          ? []
          : [`--src-creds=${reg.username}:${reg.password}`, `--dest-creds=${reg.username}:${reg.password}`]),
        `docker://${reg.host}/talos/imager:v1.0.0`,
        `docker://${reg.host}/mirror/imager:copied`,
      ]);
      const src = new RegistrySource(client, parseReference(`${reg.host}/mirror/imager`));
      const img = await resolveImage(src, "copied", { os: "linux", architecture: "amd64" });
      assert.equal(img.descriptor.digest, fx.images[0]?.manifest.digest);
      const sink = new RegistrySink(client, parseReference(`${reg.host}/mirror/imager`));
      for (const t of ["a", "b", "c", "d", "e"]) await writeImage(sink, fx.images[0]!, { tag: t });
      const tags = await client.listTags(parseReference(`${reg.host}/mirror/imager`), 2);
      assert.deepEqual([...tags].sort(), ["a", "b", "c", "copied", "d", "e"]);
      const target = parseReference(`${reg.host}/other/repo`);
      const layer = fx.images[0]!.layers[0]!.descriptor;
      assert.equal(await client.mountBlob(target, layer.digest, "mirror/imager"), true);
      assert.equal(await client.headBlob(target, layer.digest), layer.size);
    });

    test("copy between repositories keeps the index digest", async () => {
      const src = new RegistrySource(client, parseReference(`${reg.host}/talos/imager`));
      const dst = new RegistrySink(client, parseReference(`${reg.host}/copy/imager`), {
        mountFrom: "talos/imager",
      });
      const root = await copyImage(src, "v1.0.0", dst, { tag: "v1" });
      assert.equal(root.digest, fx.index.digest);
      assert.equal((await skopeoInspect(`${reg.host}/copy/imager:v1`, creds())).Digest, fx.index.digest);
      const one = await skopeoInspect(`${reg.host}/copy/imager@${fx.images[1]!.manifest.digest}`, creds());
      assert.equal(one.Digest, fx.images[1]?.manifest.digest);
    });

    test("a blob pushed with a wrong digest is refused", async () => {
      const l = await buildLayer([{ path: "x", content: "x" }], fx.dir);
      const sink = new RegistrySink(client, parseReference(`${reg.host}/bad/blob`));
      const wrong = { ...l.descriptor, digest: "sha256:" + "0".repeat(64) };
      await assert.rejects(
        sink.putBlob(wrong, async () => (await import("node:fs")).createReadStream(l.path)),
        (e) => isBootforgeError(e) && /digest mismatch/.test(e.message),
      );
    });

    if (mode !== "none") {
      test("wrong credentials fail clearly without leaking the password", async () => {
        const bad = new RegistryClient({
          insecure: true,
          retries: 0,
          keychain: staticKeychain({ [reg.host]: { username: reg.username, password: "wrong-pass" } }),
        });
        await assert.rejects(bad.getManifest(parseReference(`${reg.host}/talos/imager:v1.0.0`)), (e) => {
          assert.ok(isBootforgeError(e, "dependency"), String(e));
          assert.ok(!e.message.includes("wrong-pass"));
          return true;
        });
      });
    }
    if (mode === "token") {
      test("bearer tokens are scoped and cached", async () => {
        const before = reg.tokensIssued();
        const repo = parseReference(`${reg.host}/talos/imager:v1.0.0`);
        await client.getManifest(repo);
        await client.getManifest(repo);
        await client.headManifest(repo);
        assert.ok(reg.tokensIssued() - before <= 1, "one token for repeated pulls of one scope");
        assert.ok(reg.tokenScopes().includes("repository:talos/imager:pull,push"));
        assert.ok(reg.tokenScopes().includes("repository:talos/imager:pull"));
      });
    }
  });
}

/**
 * Release images are verified before use (upstream `containerSignature`): with the fixture
 * release's signature of the imager, of the extensions catalog or of an extension image
 * missing, forged or made by another key, the factory answers a clear 502 naming the image,
 * builds nothing and caches nothing; `containerSignature.disabled: true` switches it off.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { configFromEnv, resolveConfig } from "../../src/factory/config.js";
import { createFactory } from "../../src/factory/factory.js";
import {
  putSignatureImage,
  signatureImage,
  signatureTag,
  signingKeyFromPem,
  signPayload,
} from "../../src/oci/cosign/index.js";
import { OciLayout, REF_NAME } from "../../src/oci/layout.js";
import { FakePipeline } from "./fake-pipeline.js";
import { EMPTY_ID, fixturePublicKey, fixtureRelease, startFactory, type TestFactory } from "./harness.js";

const run = promisify(execFile);
const HELLO_SCHEMATIC =
  "customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/bootforge-hello\n";

let tmp = "";
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "bootforge-verify-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * A copy of the fixture release sharing its blobs (hard links) whose index.json is rewritten by
 * `edit`; index.json is replaced, never written through the shared inode.
 */
async function releaseCopy(
  name: string,
  edit: (layout: OciLayout, digestOf: (ref: string) => Promise<string>) => Promise<void>,
): Promise<string> {
  const dir = join(tmp, name);
  await run("cp", ["-al", await fixtureRelease(), dir]);
  const index = await readFile(join(dir, "index.json"));
  await rm(join(dir, "index.json"));
  await writeFile(join(dir, "index.json"), index);
  const layout = await OciLayout.open(dir);
  await edit(layout, async (ref) => (await layout.resolve(ref)).digest);
  return dir;
}

/** Removes the signature of `ref` (its `<repo>:sha256-<hex>.sig` name). */
async function dropSignature(layout: OciLayout, ref: string, digest: string): Promise<void> {
  const repo = ref.slice(0, ref.lastIndexOf(":"));
  const name = `${repo}:${signatureTag(digest)}`;
  assert.ok(
    (await layout.index()).manifests.some((d) => d.annotations?.[REF_NAME] === name),
    name,
  );
  await layout.untag(name);
}

/** Replaces the signature of `ref` with a valid-looking one made by another key. */
async function forgeSignature(layout: OciLayout, ref: string, digest: string): Promise<void> {
  const repo = ref.slice(0, ref.lastIndexOf(":"));
  const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const sig = signPayload(signingKeyFromPem(pem), `ghcr.io/${repo}`, digest);
  await putSignatureImage(layout, signatureImage([sig]), `${repo}:${signatureTag(digest)}`);
}

async function expect502(f: TestFactory, path: string, what: RegExp): Promise<void> {
  const r = await fetch(`${f.url}${path}`);
  const body = await r.text();
  assert.equal(r.status, 502, body);
  assert.match(body, /signature verification of/);
  assert.match(body, what);
}

describe("source image verification", () => {
  it("a missing imager signature: 502 naming the image, nothing built or cached", async () => {
    const layout = await releaseCopy("no-imager-sig", async (l, digestOf) =>
      dropSignature(l, "siderolabs/imager:v1.11.0", await digestOf("siderolabs/imager:v1.11.0")),
    );
    const pipeline = new FakePipeline();
    const f = await startFactory({ release: { layout } }, { pipeline });
    try {
      assert.equal((await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" })).status, 201);
      for (let i = 0; i < 2; i++) {
        await expect502(
          f,
          `/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`,
          /ghcr\.io\/siderolabs\/imager:v1\.11\.0@sha256:[0-9a-f]{64} failed: no signature/,
        );
      }
      assert.equal(pipeline.builds.size, 0, "nothing was built");
      assert.equal(f.factory.services.metrics.assetsBuilt.total(), 0);
      // The other version's images are signed and still serve.
      const ok = await fetch(`${f.url}/image/${EMPTY_ID}/v1.9.0/metal-amd64-uki.efi`);
      assert.equal(ok.status, 200, await ok.text());
    } finally {
      await f.stop();
    }
  });

  it("a forged catalog signature: 502 for the extensions list", async () => {
    const layout = await releaseCopy("forged-catalog", async (l, digestOf) =>
      forgeSignature(l, "siderolabs/extensions:v1.11.0", await digestOf("siderolabs/extensions:v1.11.0")),
    );
    // Keyless (the harness default) and the fixture key both configured: neither verifies.
    const f = await startFactory(
      { release: { layout }, containerSignature: { publicKeyFile: await fixturePublicKey() } },
      { pipeline: new FakePipeline() },
    );
    try {
      await expect502(
        f,
        "/version/v1.11.0/extensions/official",
        /extensions:v1\.11\.0.*no signature was made by the configured key/,
      );
    } finally {
      await f.stop();
    }
  });

  it("another configured key: nothing verifies", async () => {
    const pub = join(tmp, "other.pub");
    const key = generateKeyPairSync("ec", { namedCurve: "P-256" });
    await writeFile(pub, key.publicKey.export({ type: "spki", format: "pem" }));
    const f = await startFactory(
      // Key-based only in effect: the keyless policy is upstream's default (public-good root).
      { containerSignature: { publicKeyFile: pub, trustedRootFile: "", subjectRegExp: "", issuer: "" } },
      { pipeline: new FakePipeline() },
    );
    try {
      await expect502(f, "/version/v1.11.0/overlays/official", /siderolabs\/overlays:v1\.11\.0/);
    } finally {
      await f.stop();
    }
  });

  it("an unsigned extension image: 502 naming it (real pipeline), nothing cached", async () => {
    const layout = await releaseCopy("no-ext-sig", async (l, digestOf) =>
      dropSignature(
        l,
        "siderolabs/bootforge-hello:1.0.0",
        await digestOf("siderolabs/bootforge-hello:1.0.0"),
      ),
    );
    const f = await startFactory({ release: { layout } });
    try {
      const created = await fetch(`${f.url}/schematics`, { method: "POST", body: HELLO_SCHEMATIC });
      const { id } = (await created.json()) as { id: string };
      await expect502(
        f,
        `/image/${id}/v1.11.0/initramfs-amd64.xz`,
        /siderolabs\/bootforge-hello.*no signature/,
      );
      assert.equal(f.factory.services.metrics.assetsBuilt.total(), 0);
    } finally {
      await f.stop();
    }
  });

  it("containerSignature.disabled: true serves the unsigned release", async () => {
    const layout = await releaseCopy("disabled", async (l, digestOf) =>
      dropSignature(l, "siderolabs/extensions:v1.11.0", await digestOf("siderolabs/extensions:v1.11.0")),
    );
    const f = await startFactory(
      { release: { layout }, containerSignature: { disabled: true } },
      { pipeline: new FakePipeline() },
    );
    try {
      const r = await fetch(`${f.url}/version/v1.11.0/extensions/official`);
      assert.equal(r.status, 200);
    } finally {
      await f.stop();
    }
  });

  it("without configuration the factory verifies keylessly for Sidero's identity (and refuses the fixture)", async () => {
    const dir = join(tmp, "nokey");
    const config = resolveConfig({
      http: { listen: "127.0.0.1:0" },
      storage: { dir },
      release: { source: "layout", layout: await fixtureRelease() },
    });
    const f = await createFactory(config, { pipeline: new FakePipeline() });
    const r = await f.app.request("/version/v1.11.0/overlays/official");
    const body = await r.text();
    assert.equal(r.status, 502, body);
    assert.match(body, /siderolabs\/overlays:v1\.11\.0.*CERTIFICATE_ERROR.*public-good Sigstore/);
  });

  it("configuration keys come from BOOTFORGE_ variables too", () => {
    const c = resolveConfig(
      configFromEnv({
        BOOTFORGE_CACHE_SIGNINGKEYPATH: "k.pem",
        BOOTFORGE_CONTAINERSIGNATURE_DISABLED: "true",
        BOOTFORGE_CONTAINERSIGNATURE_PUBLICKEYHASHALGO: "sha384",
        BOOTFORGE_CONTAINERSIGNATURE_SUBJECTREGEXP: "@example\\.com$",
        BOOTFORGE_CONTAINERSIGNATURE_ISSUERREGEXP: "^https://",
        BOOTFORGE_CONTAINERSIGNATURE_TRUSTEDROOTFILE: "root.json",
      }),
    );
    assert.equal(c.containerSignature.subjectRegExp, "@example\\.com$");
    assert.equal(c.containerSignature.issuerRegExp, "^https://");
    assert.equal(c.containerSignature.trustedRootFile, "root.json");
    assert.equal(c.cache.signingKeyPath, "k.pem");
    assert.equal(c.containerSignature.disabled, true);
    assert.equal(c.containerSignature.publicKeyHashAlgo, "sha384");
  });
});

/**
 * Free checksums and signatures for every asset (`<asset>.sha256`, `.sha512`, `.sigstore.json`),
 * upstream's Enterprise-only routes: checked with the independent `sha256sum -c`/`sha512sum -c`
 * and sigstore-js (`@sigstore/verify` with the factory's public key as key trust material, as
 * `cosign verify-blob --bundle … --key …` checks it), on both storage backends. Builds are
 * counted: checksums and bundles of a cached asset never rebuild it, and a fresh factory on the
 * same storage answers them from the digests recorded at store time.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { bundleFromJSON } from "@sigstore/bundle";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import { Verifier, toSignedEntity, toTrustMaterial } from "@sigstore/verify";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { EMPTY_ID, startFactory, type TestFactory } from "./harness.js";

const exec = promisify(execFile);
const VERSION = "v1.11.0";

/** sigstore-js verification with one public key and no transparency log, CT log or timestamp. */
function verifyBundle(bundleJson: unknown, artifact: Buffer, publicKeyPem: string): void {
  const key = createPublicKey(publicKeyPem);
  const material = toTrustMaterial(
    TrustedRoot.fromJSON({ mediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1" }),
    () => ({ publicKey: key, validFor: () => true }),
  );
  const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
  verifier.verify(toSignedEntity(bundleFromJSON(bundleJson), artifact));
}

async function get(f: TestFactory, path: string, method = "GET"): Promise<{ res: Response; body: Buffer }> {
  const res = await fetch(`${f.url}${path}`, { method });
  return { res, body: Buffer.from(await res.arrayBuffer()) };
}

/** Creates the empty schematic (`EMPTY_ID`) on `f`. */
async function createEmpty(f: TestFactory): Promise<void> {
  const r = await fetch(`${f.url}/schematics`, { method: "POST", body: "customization: {}\n" });
  assert.equal(((await r.json()) as { id: string }).id, EMPTY_ID);
}

const built = (f: TestFactory) => f.factory.services.metrics.assetsBuilt.total();

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), "bootforge-sums-"));
  dirs.push(d);
  return d;
};

/** A P-256 cache signing key (cosign's default kind) in a file. */
async function signingKey(): Promise<string> {
  const path = join(await tempDir(), "cache-signing.pem");
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await writeFile(path, privateKey.export({ type: "pkcs8", format: "pem" }));
  return path;
}

after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * The checks of one backend: `asset` is built by the first checksum request, downloaded, checked
 * with the coreutils tools and sigstore-js, then every route is asked again (GET and HEAD)
 * without a build; `restart` opens a second factory on the same storage.
 */
function backend(
  name: string,
  asset: string,
  open: () => Promise<{ storage: Record<string, unknown>; dir?: string }>,
): void {
  describe(`asset checksums and signatures: ${name}`, () => {
    let f: TestFactory;
    let keyPath = "";
    let storage: { storage: Record<string, unknown>; dir?: string };
    let bytes: Buffer = Buffer.alloc(0);
    const base = `/image/${EMPTY_ID}/${VERSION}/${asset}`;

    before(async () => {
      keyPath = await signingKey();
      storage = await open();
      f = await startFactory(
        { cache: { signingKeyPath: keyPath }, ...storage.storage },
        storage.dir ? { dir: storage.dir } : {},
      );
      await createEmpty(f);
    });
    after(async () => f.stop());

    it(".sha256 of an uncached asset builds it once; sha256sum -c and sha512sum -c accept the files", async () => {
      const sum = await get(f, `${base}.sha256`);
      assert.equal(sum.res.status, 200, sum.body.toString());
      assert.equal(sum.res.headers.get("content-type"), "text/plain; charset=utf-8");
      assert.equal(built(f), 1, "the checksum request built the asset");
      const dl = await get(f, base);
      assert.equal(dl.res.status, 200);
      bytes = dl.body;
      assert.equal(built(f), 1, "the download is a cache hit");
      const hex = createHash("sha256").update(bytes).digest("hex");
      assert.equal(sum.body.toString(), `${hex}  ${asset}\n`);
      const sha512 = await get(f, `${base}.sha512`);
      assert.equal(sha512.res.status, 200);
      assert.equal(sha512.body.toString(), `${createHash("sha512").update(bytes).digest("hex")}  ${asset}\n`);

      // The independent tools, on the downloaded file under its name.
      const dir = await tempDir();
      await writeFile(join(dir, asset), bytes);
      await writeFile(join(dir, "SHA256SUMS"), sum.body);
      await writeFile(join(dir, "SHA512SUMS"), sha512.body);
      const ok256 = await exec("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir });
      assert.equal(ok256.stdout, `${asset}: OK\n`);
      await exec("sha512sum", ["-c", "SHA512SUMS"], { cwd: dir });
      // A changed byte fails the check.
      const changed = Buffer.from(bytes);
      changed[changed.length >> 1]! ^= 0x01;
      await writeFile(join(dir, asset), changed);
      await assert.rejects(exec("sha256sum", ["-c", "SHA256SUMS"], { cwd: dir }), /did NOT match/);
    });

    it(".sigstore.json verifies with @sigstore/verify and the factory's public key, and fails for a changed byte", async () => {
      const { res, body } = await get(f, `${base}.sigstore.json`);
      assert.equal(res.status, 200, body.toString());
      assert.equal(res.headers.get("content-type"), "application/json");
      const bundle = JSON.parse(body.toString()) as {
        mediaType: string;
        messageSignature: { messageDigest: { algorithm: string; digest: string } };
      };
      assert.equal(bundle.mediaType, "application/vnd.dev.sigstore.bundle.v0.3+json");
      assert.equal(bundle.messageSignature.messageDigest.algorithm, "SHA2_256");
      assert.equal(
        Buffer.from(bundle.messageSignature.messageDigest.digest, "base64").toString("hex"),
        createHash("sha256").update(bytes).digest("hex"),
      );
      const pub = await (await fetch(`${f.url}/oci/cosign/signing-key.pub`)).text();
      verifyBundle(bundle, bytes, pub);
      const changed = Buffer.from(bytes);
      changed[0]! ^= 0x80;
      assert.throws(() => verifyBundle(bundle, changed, pub), /signature verification failed/);
      // Another key does not verify it either.
      const other = generateKeyPairSync("ec", { namedCurve: "P-256" })
        .publicKey.export({ type: "spki", format: "pem" })
        .toString();
      assert.throws(() => verifyBundle(bundle, bytes, other), /signature verification failed/);
    });

    it("all three answer GET and HEAD from the cache without a rebuild, also on a fresh factory", async () => {
      for (const suffix of [".sha256", ".sha512", ".sigstore.json"]) {
        const full = await get(f, `${base}${suffix}`);
        assert.equal(full.res.status, 200);
        const head = await get(f, `${base}${suffix}`, "HEAD");
        assert.equal(head.res.status, 200);
        assert.equal(head.body.length, 0, `HEAD ${suffix} has no body`);
        assert.equal(head.res.headers.get("content-type"), full.res.headers.get("content-type"));
        // Bundles differ per request (ECDSA is randomized) but keep their length class; sums are exact.
        if (suffix !== ".sigstore.json")
          assert.equal(head.res.headers.get("content-length"), String(full.body.length));
        else assert.ok(Number(head.res.headers.get("content-length")) > 0);
      }
      // `?filename=` names the file in the line, as it names the download.
      const named = await get(f, `${base}.sha256?filename=talos.img`);
      assert.equal(named.body.toString(), `${createHash("sha256").update(bytes).digest("hex")}  talos.img\n`);
      assert.equal(built(f), 1, "nothing rebuilt");

      // A fresh factory on the same storage reads the recorded digests. The kernel, because assets
      // that embed the schematic's URL (ISO) are keyed by the factory's address, which changes.
      const kernel = `/image/${EMPTY_ID}/${VERSION}/kernel-amd64`;
      const expected = (await get(f, `${kernel}.sha256`)).body.toString();
      const g = await startFactory(
        { cache: { signingKeyPath: keyPath }, ...storage.storage },
        storage.dir ? { dir: storage.dir } : {},
      );
      try {
        await createEmpty(g);
        assert.equal((await get(g, `${kernel}.sha256`)).body.toString(), expected);
        const kernelBytes = (await get(g, kernel)).body;
        assert.equal(expected, `${createHash("sha256").update(kernelBytes).digest("hex")}  kernel-amd64\n`);
        const bundle = await get(g, `${kernel}.sigstore.json`);
        const pub = await (await fetch(`${g.url}/oci/cosign/signing-key.pub`)).text();
        verifyBundle(JSON.parse(bundle.body.toString()), kernelBytes, pub);
        assert.equal(built(g), 0, "a fresh factory on the same storage builds nothing");
      } finally {
        await g.stop();
      }
    });
  });
}

backend("local directory, metal-amd64.iso", "metal-amd64.iso", async () => {
  const dir = await tempDir();
  return { storage: { storage: { dir } }, dir };
});

let registry: TestRegistry | undefined;
after(async () => registry?.stop());
backend("OCI registry, kernel-amd64", "kernel-amd64", async () => {
  registry ??= await startRegistry("none");
  return {
    storage: { storage: { kind: "registry", registry: registry.host, namespace: "sums", insecure: true } },
  };
});

describe("asset signatures without a cache signing key", () => {
  it(".sigstore.json answers 404 naming cache.signingKeyPath, before any build; checksums still work", async () => {
    const f = await startFactory();
    try {
      await createEmpty(f);
      const { res, body } = await get(f, `/image/${EMPTY_ID}/${VERSION}/kernel-amd64.sigstore.json`);
      assert.equal(res.status, 404);
      assert.match(body.toString(), /no cache signing key \(set cache\.signingKeyPath\)/);
      assert.equal(built(f), 0);
      const sum = await get(f, `/image/${EMPTY_ID}/${VERSION}/kernel-amd64.sha512`);
      assert.equal(sum.res.status, 200);
      assert.match(sum.body.toString(), /^[0-9a-f]{128} {2}kernel-amd64\n$/);
    } finally {
      await f.stop();
    }
  });
});

describe("asset signatures by key type", () => {
  it("an RSA cache signing key signs bundles that verify; an Ed25519 key answers 501 naming the reason, before a build", async () => {
    const dir = await tempDir();
    const rsa = join(dir, "rsa.pem");
    const ed = join(dir, "ed25519.pem");
    const pkcs8 = (k: ReturnType<typeof generateKeyPairSync>["privateKey"]) =>
      k.export({ type: "pkcs8", format: "pem" });
    await writeFile(rsa, pkcs8(generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey));
    await writeFile(ed, pkcs8(generateKeyPairSync("ed25519").privateKey));
    const path = `/image/${EMPTY_ID}/${VERSION}/cmdline-metal-amd64`;

    const f = await startFactory({ cache: { signingKeyPath: rsa } });
    try {
      await createEmpty(f);
      const bundle = await get(f, `${path}.sigstore.json`);
      assert.equal(bundle.res.status, 200, bundle.body.toString());
      const asset = (await get(f, path)).body;
      const pub = await (await fetch(`${f.url}/oci/cosign/signing-key.pub`)).text();
      verifyBundle(JSON.parse(bundle.body.toString()), asset, pub);
      assert.throws(
        () => verifyBundle(JSON.parse(bundle.body.toString()), Buffer.concat([asset, Buffer.from(" ")]), pub),
        /signature verification failed/,
      );
    } finally {
      await f.stop();
    }

    const g = await startFactory({ cache: { signingKeyPath: ed } });
    try {
      await createEmpty(g);
      const { res, body } = await get(g, `${path}.sigstore.json`);
      assert.equal(res.status, 501);
      assert.match(body.toString(), /need an ECDSA or RSA cache signing key/);
      assert.equal(built(g), 0, "refused before building the asset");
    } finally {
      await g.stop();
    }
  });
});

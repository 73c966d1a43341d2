/**
 * Signing and verification against a real registry (Debian's `docker-registry`): the fixture
 * builder's push carries the `.sig` tags and a registry release source verifies them; the
 * registry asset store signs its entries and treats a bad or foreign signature as a miss.
 */
import { strict as assert } from "node:assert";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { after, before, describe, it } from "node:test";
import { pushLayout } from "../../fixtures/lib/push.js";
import { LocalStore } from "../../src/factory/storage/local-store.js";
import { RegistryStore } from "../../src/factory/storage/registry-store.js";
import { RegistryClient } from "../../src/oci/client.js";
import {
  loadPublicKey,
  putSignatureImage,
  signatureImage,
  signatureTag,
  signingKeyFromPem,
  signPayload,
  type SigningKey,
} from "../../src/oci/cosign/index.js";
import { RegistrySink } from "../../src/oci/source.js";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { ReleaseSource } from "../../src/release/release-source.js";
import { KeySourceVerifier } from "../../src/release/source-verifier.js";
import { fixturePublicKey, fixtureRelease } from "./harness.js";

const ecKey = (): SigningKey =>
  signingKeyFromPem(
    generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "sec1", format: "pem" })
      .toString(),
  );

let reg: TestRegistry;
let tmp = "";
const client = new RegistryClient({ insecure: true });
before(async () => {
  reg = await startRegistry("none");
  tmp = await mkdtemp(join(tmpdir(), "bootforge-signing-registry-"));
});
after(async () => {
  await reg.stop();
  await rm(tmp, { recursive: true, force: true });
});

describe("a registry release source", () => {
  it("the fixture push carries signatures, which the source verifies; a forged one is refused", async () => {
    const pushed = await pushLayout(await fixtureRelease(), reg.host, undefined, (ref) =>
      ref.startsWith("siderolabs/extensions:"),
    );
    assert.ok(
      pushed.some((r) => r.endsWith(".sig")),
      pushed.join(" "),
    );
    const source = (verifier: KeySourceVerifier) =>
      new ReleaseSource({
        version: "v1.11.0",
        arch: "amd64",
        cacheDir: join(tmp, "cache"),
        location: { kind: "registry", registry: reg.host, namespace: "siderolabs", insecure: true },
        registryClient: client,
        verifier,
      });
    const ref = { registry: "ghcr.io", repository: "siderolabs/extensions", tag: "v1.11.0" };
    const verifier = new KeySourceVerifier([await loadPublicKey(await fixturePublicKey())]);
    const img = await source(verifier).resolve(ref);

    const repo = { registry: reg.host, repository: "siderolabs/extensions" };
    const forged = signPayload(ecKey(), "ghcr.io/siderolabs/extensions", img.root.digest);
    await putSignatureImage(
      new RegistrySink(client, repo),
      signatureImage([forged]),
      signatureTag(img.root.digest),
    );
    // A fresh verifier (nothing remembered) sees the forged signature.
    const fresh = new KeySourceVerifier([await loadPublicKey(await fixturePublicKey())]);
    await assert.rejects(source(fresh).resolve(ref), (e: Error) => {
      assert.match(e.message, /signature verification of .*siderolabs\/extensions:v1\.11\.0@sha256:/);
      assert.match(e.message, /no signature was made by the configured key/);
      return true;
    });
  });
});

describe("registry asset store signing", () => {
  const store = async (signingKey: SigningKey | undefined) =>
    new RegistryStore({
      client,
      registry: reg.host,
      namespace: "signed",
      scratch: await LocalStore.open(await mkdtemp(join(tmp, "scratch-"))),
      ...(signingKey ? { signingKey } : {}),
    });

  it("signs entries, and an entry without a valid signature by the current key is a miss", async () => {
    const key = ecKey();
    const s = await store(key);
    await s.put("asset-1", (p) => writeFile(p, "signed bytes"));
    const hit = await s.get("asset-1");
    assert.ok(hit);
    assert.equal(await text(hit.open()), "signed bytes");

    // Key rotation: another key does not accept the entry.
    assert.equal(await (await store(ecKey())).get("asset-1"), undefined);

    // A forged signature under the entry's tag is a miss too; writing the entry again heals it.
    const repo = { registry: reg.host, repository: "signed/cache" };
    const head = await client.headManifest({ ...repo, tag: "asset-1" });
    const forged = signPayload(ecKey(), `${reg.host}/signed/cache`, head!.digest);
    await putSignatureImage(
      new RegistrySink(client, repo),
      signatureImage([forged]),
      signatureTag(head!.digest),
    );
    assert.equal(await s.get("asset-1"), undefined);
    await s.put("asset-1", (p) => writeFile(p, "signed bytes"));
    assert.ok(await s.get("asset-1"));

    // An unsigned entry (written without a key) is a miss for a signing store.
    await (await store(undefined)).put("asset-2", (p) => writeFile(p, "unsigned"));
    assert.equal(await s.get("asset-2"), undefined);
    assert.ok(await (await store(undefined)).get("asset-2"));
  });
});

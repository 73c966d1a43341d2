/**
 * One conformance suite for every storage backend (local directory, OCI registry on Debian's
 * docker-registry), plus two factory replicas sharing one registry.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RegistryClient } from "../../src/oci/client.js";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { LocalStore } from "../../src/factory/storage/local-store.js";
import { RegistryStore } from "../../src/factory/storage/registry-store.js";
import type { AssetStore, SchematicStore } from "../../src/factory/storage/types.js";
import { EMPTY_ID, startFactory } from "./harness.js";

async function readAll(s: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function conformance(
  name: string,
  open: () => Promise<{ assets: AssetStore; schematics: SchematicStore }>,
): void {
  describe(`storage conformance: ${name}`, () => {
    let assets: AssetStore;
    let schematics: SchematicStore;
    before(async () => ({ assets, schematics } = await open()));

    it("assets: miss, put, get, ranges, stable etag", async () => {
      const key = "a".repeat(64);
      assert.equal(await assets.get(key), undefined);
      const put = await assets.put(key, (tmp) => writeFile(tmp, "0123456789"));
      assert.equal(put.size, 10);
      const got = await assets.get(key);
      assert.ok(got);
      assert.equal(got.etag, put.etag);
      assert.equal(await readAll(got.open()), "0123456789");
      assert.equal(await readAll(got.open({ start: 2, end: 4 })), "234");
    });

    it("assets: SHA-256 and SHA-512 recorded at put, the same after get", async () => {
      const key = "c".repeat(64);
      const bytes = "checksummed asset\n";
      const want = {
        sha256: createHash("sha256").update(bytes).digest("hex"),
        sha512: createHash("sha512").update(bytes).digest("hex"),
      };
      const put = await assets.put(key, (tmp) => writeFile(tmp, bytes));
      assert.deepEqual(await put.digests?.(), want);
      assert.deepEqual(await (await assets.get(key))?.digests?.(), want);
    });

    it("assets: a failing producer stores nothing", async () => {
      const key = "b".repeat(64);
      await assert.rejects(
        assets.put(key, async (tmp) => {
          await writeFile(tmp, "partial");
          throw new Error("build failed");
        }),
      );
      assert.equal(await assets.get(key), undefined);
    });

    it("assets: invalid keys are refused", async () => {
      await assert.rejects(assets.get("../etc"), /invalid storage key/);
    });

    it("schematics: miss, put, get", async () => {
      assert.equal(await schematics.get(EMPTY_ID), undefined);
      await schematics.put(EMPTY_ID, "customization: {}\n");
      assert.equal(await schematics.get(EMPTY_ID), "customization: {}\n");
      await schematics.put(EMPTY_ID, "customization: {}\n");
    });
  });
}

let registry: TestRegistry | undefined;
const dirs: string[] = [];
const tempDir = async () => {
  const d = await mkdtemp(join(tmpdir(), "bootforge-store-"));
  dirs.push(d);
  return d;
};
after(async () => {
  await registry?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
const sharedRegistry = async () => (registry ??= await startRegistry("none"));

conformance("local directory", async () => {
  const local = await LocalStore.open(await tempDir());
  return { assets: local, schematics: local.schematics() };
});

conformance("OCI registry", async () => {
  const reg = await sharedRegistry();
  const store = new RegistryStore({
    client: new RegistryClient({ insecure: true }),
    registry: reg.host,
    namespace: "conformance",
    scratch: await LocalStore.open(await tempDir()),
  });
  return { assets: store, schematics: store.schematicStore() };
});

describe("two replicas sharing a registry", () => {
  it("see each other's schematics and cached assets", async () => {
    const reg = await sharedRegistry();
    const storage = { kind: "registry", registry: reg.host, namespace: "replicas", insecure: true };
    const a = await startFactory({ storage });
    const b = await startFactory({ storage });
    try {
      const created = await fetch(`${a.url}/schematics`, {
        method: "POST",
        body: "customization:\n  extraKernelArgs:\n    - replica=1\n",
      });
      const { id } = (await created.json()) as { id: string };
      assert.equal((await fetch(`${b.url}/schematics/${id}`)).status, 200);
      const path = `/image/${id}/v1.11.0/kernel-amd64`;
      const first = Buffer.from(await (await fetch(`${a.url}${path}`)).arrayBuffer());
      const second = Buffer.from(await (await fetch(`${b.url}${path}`)).arrayBuffer());
      assert.deepEqual(second, first);
      assert.equal(a.factory.services.metrics.assetsBuilt.total(), 1);
      assert.equal(b.factory.services.metrics.assetsBuilt.total(), 0, "replica B served A's cached asset");
      assert.equal(b.factory.services.metrics.assetsCached.total(), 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

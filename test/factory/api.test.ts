/** HTTP end-to-end tests of the factory API against the fixture release (upstream checklist). */
import { strict as assert } from "node:assert";
import { after, before, describe, it } from "node:test";
import { readVectors } from "../helpers/shared.js";
import { EMPTY_ID, startFactory, type TestFactory } from "./harness.js";

interface SchematicVector {
  in: string;
  valid: boolean;
  canonical?: string;
  id?: string;
}

describe("factory API", () => {
  let f: TestFactory;
  before(async () => {
    f = await startFactory();
  });
  after(async () => f.stop());
  const get = (path: string, init?: RequestInit) => fetch(`${f.url}${path}`, init);
  const post = (path: string, body: string) => fetch(`${f.url}${path}`, { method: "POST", body });

  it("HEAD / answers 200 with an Image Factory Server header (not Enterprise)", async () => {
    const r = await get("/", { method: "HEAD" });
    assert.equal(r.status, 200);
    assert.match(r.headers.get("server") ?? "", /Image Factory/);
    assert.doesNotMatch(r.headers.get("server") ?? "", /Enterprise/);
    assert.ok(r.headers.get("x-request-id"));
  });

  it("healthz and readyz", async () => {
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/readyz")).status, 200);
  });

  it("schematic vectors round-trip through POST and GET with their upstream IDs", async () => {
    const doc = readVectors<{ vectors: SchematicVector[] }>("schematics.json");
    const vectors = doc.vectors;
    assert.ok(vectors.length > 5, "schematics.json has vectors");
    for (const v of vectors) {
      const r = await post("/schematics", v.in);
      if (!v.valid) {
        assert.ok(r.status === 400 || r.status === 413, `${JSON.stringify(v.in)} → ${r.status}`);
        continue;
      }
      assert.equal(r.status, 201, JSON.stringify(v.in));
      assert.equal(r.headers.get("content-type"), "application/json");
      const body = (await r.json()) as { id: string; schematic: string };
      assert.equal(body.id, v.id, `ID of ${JSON.stringify(v.in)}`);
      assert.equal(body.schematic, v.canonical);
      const g = await get(`/schematics/${body.id}`);
      assert.equal(g.status, 200);
      assert.equal(g.headers.get("content-type"), "application/yaml");
      assert.equal(await g.text(), body.schematic);
    }
  });

  it("POST /schematics is idempotent and answers compact JSON with a trailing newline", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await post("/schematics", "customization: {}\n");
      assert.equal(r.status, 201);
      assert.equal(await r.text(), `{"id":"${EMPTY_ID}","schematic":"customization: {}\\n"}\n`);
    }
  });

  it("schematic errors: upstream decode text (400), owner (400), 413 over 1 MiB, 404 not found", async () => {
    const bad = await post("/schematics", "something:");
    assert.equal(bad.status, 400);
    assert.equal(
      await bad.text(),
      "yaml: construct errors: line 1: field something not found in type schematic.Schematic\n",
    );
    assert.equal((await post("/schematics", "owner: bob\n")).status, 400);
    const big = await post(
      "/schematics",
      `customization:\n  extraKernelArgs:\n    - ${"a".repeat(1 << 20)}\n`,
    );
    assert.equal(big.status, 413);
    const missing = await get(`/schematics/${"a".repeat(64)}`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), "schematic not found\n");
  });

  it("versions, broken versions, extension and overlay catalogs", async () => {
    const v = await get("/versions");
    assert.equal(v.headers.get("content-type"), "text/plain; charset=utf-8");
    const versions = (await v.json()) as string[];
    assert.ok(versions.includes("v1.11.0") && versions.includes("v1.9.0"));
    assert.deepEqual(await (await get("/versions?broken=true")).json(), []);
    const ext = (await (await get("/version/v1.11.0/extensions/official")).json()) as Array<
      Record<string, string>
    >;
    assert.ok(ext.length > 0);
    assert.deepEqual(Object.keys(ext[0]!), ["name", "ref", "digest", "author", "description"]);
    assert.ok(ext.every((e) => e.name!.startsWith("siderolabs/") && e.ref!.startsWith("ghcr.io/")));
    const ovl = (await (await get("/version/1.11.0/overlays/official")).json()) as Array<
      Record<string, string>
    >;
    assert.deepEqual(Object.keys(ovl[0]!), ["name", "image", "ref", "digest"]);
    assert.deepEqual(await (await get("/version/v1.5.0/overlays/official")).json(), []);
    const unknown = await get("/version/v1.5.0-alpha.0/extensions/official");
    assert.equal(unknown.status, 404);
  });

  it("asset errors: 404 schematic, 400 profile path, the same for checksum suffixes, 404 Enterprise routes", async () => {
    const s = await get("/image/aaaaaaaaaaaa/v1.5.0/metal-amd64.iso");
    assert.equal(s.status, 404);
    assert.equal(await s.text(), 'schematic ID "aaaaaaaaaaaa" not found\n');
    const p = await get(`/image/${EMPTY_ID}/v1.5.0/metal-amd64.ssd`);
    assert.equal(p.status, 400);
    assert.equal(
      await p.text(),
      'error parsing profile from path: invalid profile path: "metal-amd64.ssd"\n',
    );
    // Checksums and signatures are free here (upstream's OSS edition answers 402): they answer the
    // asset's own errors; test/factory/asset-checksums.test.ts checks their bodies.
    for (const suffix of [".sha512", ".sha256", ".sigstore.json"]) {
      const r = await get(`/image/aaaaaaaaaaaa/v1.11.0/kernel-amd64${suffix}`);
      assert.equal(r.status, 404);
      assert.equal(await r.text(), 'schematic ID "aaaaaaaaaaaa" not found\n');
      const bad = await get(`/image/${EMPTY_ID}/v1.11.0/metal-amd64.ssd${suffix}`);
      assert.equal(bad.status, 400);
    }
    for (const path of [
      `/spdx/${EMPTY_ID}/v1.11.0/amd64`,
      "/vex/v1.13.0/vex.json",
      `/scans/${EMPTY_ID}/v1.13.0/amd64/report.json`,
    ]) {
      const r = await get(path);
      assert.equal(r.status, 404, path);
      assert.equal(await r.text(), "404 page not found\n");
    }
  });

  it("better than upstream: malformed versions are 400, unknown ones 404", async () => {
    const m = await get(`/image/${EMPTY_ID}/v1.5/kernel-amd64`);
    assert.equal(m.status, 400);
    assert.match(await m.text(), /invalid Talos version "v1.5"/);
    const u = await get(`/image/${EMPTY_ID}/v1.2.3/kernel-amd64`);
    assert.equal(u.status, 404);
    assert.equal(await u.text(), "version 1.2.3 is not available\n");
  });

  it("kernel download: headers as upstream, ?filename=, cache hit on the second download, Range and ETag", async () => {
    const path = `/image/${EMPTY_ID}/v1.11.0/kernel-amd64`;
    const builtBefore = f.factory.services.metrics.assetsBuilt.total();
    const r = await get(path);
    assert.equal(r.status, 200);
    const bytes = Buffer.from(await r.arrayBuffer());
    assert.equal(r.headers.get("content-type"), "application/octet-stream");
    assert.equal(r.headers.get("content-disposition"), 'attachment; filename="kernel-amd64"');
    assert.equal(Number(r.headers.get("content-length")), bytes.length);
    assert.equal(bytes.subarray(0, 2).toString("latin1"), "MZ", "a PE/EFI kernel image");
    const etag = r.headers.get("etag")!;
    const again = await get(`${path}?filename=custom-filename`);
    assert.equal(again.headers.get("content-disposition"), 'attachment; filename="custom-filename"');
    assert.deepEqual(Buffer.from(await again.arrayBuffer()), bytes);
    assert.equal(f.factory.services.metrics.assetsBuilt.total(), builtBefore + 1, "built once");
    assert.ok(f.factory.services.metrics.assetsCached.total() >= 1, "second download was a cache hit");
    const head = await get(path, { method: "HEAD" });
    assert.equal(Number(head.headers.get("content-length")), bytes.length);
    const range = await get(path, { headers: { range: "bytes=0-9" } });
    assert.equal(range.status, 206);
    assert.deepEqual(Buffer.from(await range.arrayBuffer()), bytes.subarray(0, 10));
    const cond = await get(path, { headers: { "if-none-match": etag } });
    assert.equal(cond.status, 304);
  });

  it("cmdline assets carry the schematic's kernel arguments and META", async () => {
    const r = await post(
      "/schematics",
      JSON.stringify({
        customization: {
          extraKernelArgs: ["nolapic", "nomodeset"],
          meta: [{ key: 10, value: '{"externalIPs":["1.2.3.4"]}' }],
        },
      }),
    );
    const { id } = (await r.json()) as { id: string };
    const c = await get(`/image/${id}/v1.11.0/cmdline-metal-amd64`);
    assert.equal(c.status, 200);
    assert.equal(
      await c.text(),
      "talos.platform=metal console=tty0 init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 talos.environment=INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ== nolapic nomodeset",
    );
  });

  it("PXE scripts equal ipxe.json for the versions the fixture release serves", async () => {
    const doc = readVectors<{ vectors: Array<{ request: string; talosVersion: string; expected: string }> }>(
      "ipxe.json",
    );
    const served = (await (await get("/versions")).json()) as string[];
    const cases = doc.vectors.filter((v) => served.includes(v.talosVersion));
    assert.ok(cases.length >= 3, "ipxe.json has cases for a served version");
    for (const v of cases) {
      const path = v.request.replace(/^GET /, "");
      const secure = path.includes("secureboot");
      const r = await get(path);
      if (secure) {
        // SecureBoot is disabled in this factory: upstream answers 400 `secure boot is disabled`.
        assert.equal(r.status, 400);
        assert.equal(await r.text(), "secure boot is disabled\n");
        continue;
      }
      assert.equal(r.status, 200, path);
      assert.equal(await r.text(), v.expected.replaceAll("ENDPOINT", f.url), path);
    }
    assert.equal((await get(`/pxe/${EMPTY_ID}/v1.11.0/metal-amd64`, { method: "HEAD" })).status, 405);
  });

  it("CORS as upstream on asset routes", async () => {
    const path = `/image/${EMPTY_ID}/v1.11.0/kernel-amd64`;
    const pre = await get(path, {
      method: "OPTIONS",
      headers: {
        origin: "http://example.com",
        "access-control-request-method": "GET",
        "access-control-request-headers": "cache-control",
      },
    });
    assert.match(pre.headers.get("access-control-allow-methods") ?? "", /GET/);
    assert.match((pre.headers.get("access-control-allow-headers") ?? "").toLowerCase(), /cache-control/);
    const r = await get(path, { method: "HEAD", headers: { origin: "http://example.com" } });
    assert.match(r.headers.get("access-control-expose-headers") ?? "", /Content-Disposition/);
  });

  it("unknown extensions are a 400 naming them; overlay schematics build", async () => {
    const r = await post(
      "/schematics",
      "customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/nope\n",
    );
    const { id } = (await r.json()) as { id: string };
    const x = await get(`/image/${id}/v1.11.0/initramfs-amd64.xz`);
    assert.equal(x.status, 400);
    assert.equal(
      await x.text(),
      'official extension "siderolabs/nope" is not available for Talos version v1.11.0\n',
    );
    // The kernel does not carry extensions, so it still builds (as upstream).
    assert.equal((await get(`/image/${id}/v1.11.0/kernel-arm64`, { method: "HEAD" })).status, 200);
    // An overlay schematic builds through the same pipeline (the overlay's installer runs confined).
    const o = await post(
      "/schematics",
      "overlay:\n  name: bootforge_sbc\n  image: siderolabs/sbc-bootforge\n",
    );
    const { id: sbc } = (await o.json()) as { id: string };
    const n = await get(`/image/${sbc}/v1.11.0/metal-arm64.iso`, { method: "HEAD" });
    assert.equal(n.status, 200);
    assert.equal(n.headers.get("content-type"), "application/x-iso9660-image");
  });

  it("/metrics exposes build and request metrics", async () => {
    const text = await (await get("/metrics")).text();
    assert.match(text, /^image_factory_assets_built_total\{/m);
    assert.match(text, /^bootforge_http_request_duration_seconds_bucket\{/m);
    assert.match(text, /^bootforge_build_queue_depth 0$/m);
  });
});

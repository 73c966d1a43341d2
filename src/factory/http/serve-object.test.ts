import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { LocalStore } from "../storage/local-store.js";
import { createApp } from "../app.js";
import { parseRange, serveObject } from "./serve-object.js";

test("range parsing", () => {
  assert.deepEqual(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
  assert.deepEqual(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assert.deepEqual(parseRange("bytes=95-200", 100), { start: 95, end: 99 });
  assert.equal(parseRange("bytes=100-", 100), "unsatisfiable");
  assert.equal(parseRange("bytes=5-2", 100), "unsatisfiable");
  assert.equal(parseRange("bytes=0-1,5-6", 100), undefined);
  assert.equal(parseRange("items=0-1", 100), undefined);
  assert.equal(parseRange(null, 100), undefined);
});

test("downloads over a real socket: length, ranges, ETag, HEAD", async () => {
  const root = await mkdtemp(join(tmpdir(), "bf-serve-"));
  const store = await LocalStore.open(root);
  const body = Buffer.alloc(256 * 1024, 7);
  body.write("HEADER", 0);
  await store.put("asset1", (p) => writeFile(p, body));
  const app = createApp({ serverVersion: "t", allowedOrigins: ["*"] }, [
    (a) =>
      a.on(["GET", "HEAD"], "/f", async (c) => {
        const obj = (await store.get("asset1"))!;
        return serveObject(obj, {
          method: c.req.method,
          contentType: "application/x-xz",
          filename: 'a"b.raw.xz',
          headers: c.req.raw.headers,
        });
      }),
  ]);
  const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  await new Promise((r) => server.once("listening", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const full = await fetch(`${base}/f`);
    assert.equal(full.status, 200);
    assert.equal(full.headers.get("content-length"), String(body.length));
    assert.equal(full.headers.get("content-type"), "application/x-xz");
    assert.equal(full.headers.get("content-disposition"), 'attachment; filename="a_b.raw.xz"');
    assert.ok(Buffer.from(await full.arrayBuffer()).equals(body));
    const etag = full.headers.get("etag")!;

    const head = await fetch(`${base}/f`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(body.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const part = await fetch(`${base}/f`, { headers: { Range: "bytes=0-5" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), `bytes 0-5/${body.length}`);
    assert.equal(await part.text(), "HEADER");

    const cached = await fetch(`${base}/f`, { headers: { "If-None-Match": etag } });
    assert.equal(cached.status, 304);

    const stale = await fetch(`${base}/f`, { headers: { Range: "bytes=0-5", "If-Range": '"other"' } });
    assert.equal(stale.status, 200);
    await stale.arrayBuffer();

    const bad = await fetch(`${base}/f`, { headers: { Range: `bytes=${body.length}-` } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get("content-range"), `bytes */${body.length}`);
    await bad.arrayBuffer();
  } finally {
    server.close();
    await rm(root, { recursive: true, force: true });
  }
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { createApp } from "./app.js";
import { invalidInput } from "../errors/index.js";

const app = createApp({ serverVersion: "v0.1.0", allowedOrigins: ["*"] }, [
  (a) => {
    a.get("/boom", () => {
      throw invalidInput("bad thing");
    });
    a.get("/crash", () => {
      throw new Error("secret internals");
    });
    a.get("/ok", (c) => c.text("ok"));
  },
]);

test("health and readiness", async () => {
  const h = await app.request("/healthz");
  assert.equal(h.status, 200);
  assert.match(h.headers.get("server") ?? "", /Image Factory/);
  assert.match(h.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const r = await app.request("/readyz", { method: "HEAD" });
  assert.equal(r.status, 200);
  const notReady = createApp({
    serverVersion: "x",
    allowedOrigins: ["*"],
    ready: () => Promise.resolve(false),
  });
  const nr = await notReady.request("/readyz");
  assert.equal(nr.status, 503);
  assert.equal(await nr.text(), "not ready\n");
});

test("request IDs are echoed when sane", async () => {
  const r = await app.request("/ok", { headers: { "X-Request-ID": "abc-123" } });
  assert.equal(r.headers.get("x-request-id"), "abc-123");
  const bad = await app.request("/ok", { headers: { "X-Request-ID": "a b\tc" } });
  assert.notEqual(bad.headers.get("x-request-id"), "a b\tc");
});

test("errors are plain text with the kind's status; internals are hidden", async () => {
  const r = await app.request("/boom");
  assert.equal(r.status, 400);
  assert.equal(r.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(r.headers.get("x-content-type-options"), "nosniff");
  assert.equal(await r.text(), "bad thing\n");
  const c = await app.request("/crash");
  assert.equal(c.status, 500);
  assert.doesNotMatch(await c.text(), /secret/);
  const nf = await app.request("/nope");
  assert.equal(nf.status, 404);
  assert.equal(await nf.text(), "404 page not found\n");
});

test("CORS as upstream: preflight and exposed headers", async () => {
  const pre = await app.request("/ok", {
    method: "OPTIONS",
    headers: {
      Origin: "https://ui.example",
      "Access-Control-Request-Method": "GET",
      "Access-Control-Request-Headers": "Cache-Control",
    },
  });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get("access-control-allow-origin"), "*");
  assert.equal(pre.headers.get("access-control-allow-methods"), "GET");
  assert.equal(pre.headers.get("access-control-allow-headers"), "cache-control");
  const get = await app.request("/ok", { headers: { Origin: "https://ui.example" } });
  assert.equal(get.headers.get("access-control-allow-origin"), "*");
  assert.equal(
    get.headers.get("access-control-expose-headers"),
    "Content-Disposition, Content-Length, Content-Type",
  );
  const restricted = createApp({ serverVersion: "x", allowedOrigins: ["https://a.example"] }, [
    (a) => a.get("/ok", (c) => c.text("ok")),
  ]);
  const denied = await restricted.request("/ok", { headers: { Origin: "https://evil.example" } });
  assert.equal(denied.headers.get("access-control-allow-origin"), null);
  const allowed = await restricted.request("/ok", { headers: { Origin: "https://a.example" } });
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://a.example");
});

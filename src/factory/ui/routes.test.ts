import assert from "node:assert/strict";
import { test } from "node:test";
import { TestBackend } from "../../../test/browser/test-backend.js";
import { createApp } from "../app.js";
import { uiRoutes } from "./routes.js";

const backend = new TestBackend();
backend.externalURL = "https://factory.example.com/";
backend.externalPXEURL = "https://pxe.example.com";
const app = createApp({ serverVersion: "v0.1.0-test", allowedOrigins: ["*"] }, [uiRoutes(backend)]);
const form = (body: string, headers: Record<string, string> = {}) =>
  app.request("/ui/wizard", {
    method: "POST",
    body,
    headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
  });

test("GET / and HEAD /: the first step, with a strict CSP and the upstream Server header", async () => {
  const res = await app.request("/");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("Content-Security-Policy") ?? "", /script-src 'self'/);
  assert.match(res.headers.get("Server") ?? "", /Image Factory/);
  const html = await res.text();
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.match(html, /data-step="target"/);
  assert.equal((await app.request("/", { method: "HEAD" })).status, 200);
});

test("static files: htmx from the pinned package, the stylesheet and the script", async () => {
  const htmx = await app.request("/js/htmx.min.js");
  assert.equal(htmx.status, 200);
  assert.match(await htmx.text(), /htmx/);
  assert.match((await app.request("/css/wizard.css")).headers.get("Content-Type") ?? "", /^text\/css/);
  assert.match((await app.request("/js/wizard.js")).headers.get("Content-Type") ?? "", /^text\/javascript/);
});

test("a step post redirects (303) to the next step's URL; htmx gets the pushed URL", async () => {
  const res = await form("step=target&target=cloud");
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("Location"), "/?target=cloud");
  // Single-arch platforms skip the architecture step.
  const hc = await form("step=platform&target=cloud&version=1.12.4&platform=hcloud");
  assert.equal(hc.headers.get("Location"), "/?target=cloud&version=1.12.4&platform=hcloud&arch=amd64");
  const page = await app.request("/?target=cloud", { headers: { "HX-Request": "true" } });
  assert.equal(page.headers.get("HX-Push-Url"), "/?target=cloud");
});

test("errors are pages: unknown version 404, bad kernel args 400 (URL kept for htmx), missing choice", async () => {
  const v = await app.request("/?target=metal&version=1.99.0");
  assert.equal(v.status, 404);
  assert.match(await v.text(), /Talos version 1\.99\.0 is not available/);
  const bad = await form("step=customization&target=metal&version=1.13.0&arch=amd64&extensions=-&cmdline=-", {
    "HX-Request": "true",
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get("HX-Push-Url"), "false");
  assert.match(await bad.text(), /role="alert"[\s\S]*removes nothing/);
  const none = await form("step=arch&target=metal&version=1.13.0");
  assert.equal(none.status, 400);
  assert.match(await none.text(), /Please make a choice/);
  const sb = await app.request("/?target=cloud&version=1.13.0&platform=aws&arch=amd64&secureboot=true");
  assert.match(await sb.text(), /SecureBoot is not available for Amazon Web Services/);
  const missing = await app.request(
    `/?target=metal&version=1.13.0&arch=amd64&schematic-id=${"b".repeat(64)}`,
  );
  assert.equal(missing.status, 404);
});

test("the final post stores the schematic and the result page shows links on the external URLs", async () => {
  const res = await form(
    "step=customization&target=cloud&version=1.11.5&platform=nocloud&arch=arm64&extensions=siderolabs/gvisor&cmdline=nolapic",
  );
  assert.equal(res.status, 303);
  const loc = res.headers.get("Location") ?? "";
  const id = /schematic-id=([0-9a-f]{64})$/.exec(loc)?.[1] ?? "";
  assert.ok(backend.stored.has(id));
  const html = await (await app.request(loc)).text();
  assert.match(html, new RegExp(`https://factory.example.com/image/${id}/v1.11.5/nocloud-arm64.raw.xz`));
  assert.match(html, new RegExp(`https://pxe.example.com/pxe/${id}/v1.11.5/nocloud-arm64`));
  assert.match(html, new RegExp(`factory.example.com/nocloud-installer/${id}:v1.11.5`));
  // No bootloader choice and no local cluster command before 1.12.
  assert.doesNotMatch(html, /talosctl cluster create/);
});

test("fragments: version docs and the filtered extension list keep checked entries", async () => {
  assert.match(
    await (await app.request("/ui/version-doc?version=1.12.4")).text(),
    /id="version-doc"[\s\S]*v1\.12/,
  );
  const list = await app.request("/ui/extensions-list", {
    method: "POST",
    body: "target=metal&version=1.13.0&arch=amd64&extensions=siderolabs/gvisor&q=intel",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  const html = await list.text();
  assert.match(html, /siderolabs\/gvisor/);
  assert.match(html, /siderolabs\/intel-ucode/);
  assert.doesNotMatch(html, /siderolabs\/amd-ucode/);
});

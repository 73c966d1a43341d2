/**
 * Observability as operators consume it: every request leaves one JSON log line carrying its
 * request ID, and `/metrics` is a Prometheus exposition that the real `promtool` accepts, with the
 * build metrics present after a build.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { jsonLogger } from "../../src/factory/logger.js";
import { EMPTY_ID, startFactory, type TestFactory } from "./harness.js";

/** Runs `promtool check metrics` on `text`; resolves with its exit code and output. */
function promtoolCheck(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile("promtool", ["check", "metrics"], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
      if (err !== null && typeof err.code !== "number") reject(new Error(`promtool: ${err.message}`));
      else resolve({ code, output: stdout + stderr });
    });
    child.stdin?.end(text);
  });
}

describe("observability", () => {
  let f: TestFactory;
  const lines: string[] = [];
  before(async () => {
    f = await startFactory({}, { logger: jsonLogger((l) => lines.push(l), "debug") });
  });
  after(async () => f.stop());

  it("each request logs one JSON line with its request ID", async () => {
    const r = await fetch(`${f.url}/versions`, { headers: { "X-Request-ID": "obs-test-1" } });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(r.headers.get("x-request-id"), "obs-test-1");
    const mine = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => o.requestId === "obs-test-1");
    assert.equal(mine.length, 1, lines.join(""));
    const entry = mine[0] ?? {};
    assert.equal(entry.msg, "request");
    assert.equal(entry.method, "GET");
    assert.equal(entry.path, "/versions");
    assert.equal(entry.status, 200);
    assert.equal(typeof entry.time, "string");

    // Without a client ID the factory makes one and logs the same one it answers with.
    const g = await fetch(`${f.url}/versions`);
    await g.arrayBuffer();
    const generated = g.headers.get("x-request-id") ?? "";
    assert.notEqual(generated, "");
    assert.ok(lines.some((l) => (JSON.parse(l) as { requestId?: string }).requestId === generated));
  });

  it("promtool accepts /metrics, including build and cache metrics after a build", async () => {
    const created = await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
    assert.equal(created.status, 201);
    assert.equal(((await created.json()) as { id: string }).id, EMPTY_ID);
    const cmdline = await fetch(`${f.url}/image/${EMPTY_ID}/v1.11.0/cmdline-metal-amd64`);
    assert.equal(cmdline.status, 200);
    await cmdline.arrayBuffer();
    const again = await fetch(`${f.url}/image/${EMPTY_ID}/v1.11.0/cmdline-metal-amd64`);
    await again.arrayBuffer();

    const m = await fetch(`${f.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await m.text();
    const { code, output } = await promtoolCheck(text);
    assert.equal(code, 0, `promtool check metrics failed:\n${output}\n--- metrics ---\n${text}`);
    assert.match(text, /^image_factory_assets_built_total\{/m);
    assert.match(text, /^bootforge_http_request_duration_seconds_bucket\{/m);
    assert.match(text, /^bootforge_build_queue_depth 0$/m);

    // A broken exposition must fail the same check (the check can fail).
    const broken = await promtoolCheck(`${text}bootforge_broken{le="x" 1\n`);
    assert.notEqual(broken.code, 0);
  });
});

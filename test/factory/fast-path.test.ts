/**
 * The fast route for `POST /schematics` (answered before Hono) must be indistinguishable from the
 * Hono route: the same raw response bytes (status line, header names, order and values, body),
 * the same access-log line and request metric. One app is served twice, once through the fast
 * path and once through Hono only, and every request is sent to both as identical raw bytes.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { serve, type ServerType } from "@hono/node-server";
import { createApp, type FactoryApp } from "../../src/factory/app.js";
import type { Logger } from "../../src/factory/logger.js";
import { FactoryMetrics } from "../../src/factory/metrics.js";
import { accessLog } from "../../src/factory/routes/access-log.js";
import { schematicRoutes } from "../../src/factory/routes/schematics.js";
import { SchematicService } from "../../src/factory/schematic-service.js";
import { applyConnectionSettings, listen, type RunningServer } from "../../src/factory/server.js";
import type { FactoryServices } from "../../src/factory/services.js";
import { LocalStore } from "../../src/factory/storage/local-store.js";

const REQUEST_TIMEOUT_MS = 10_000;

/** Sends raw bytes and reads exactly one HTTP/1.1 response (Content-Length framed). */
function exchange(port: number, raw: string | Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1");
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response within ${REQUEST_TIMEOUT_MS} ms: ${got.toString()}`));
    }, REQUEST_TIMEOUT_MS);
    const done = (text: string) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(text);
    };
    sock.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
      const text = got.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) return;
      const len = Number(/\r\ncontent-length: (\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      if (got.length >= end + 4 + len) done(text.slice(0, end + 4 + len));
    });
    sock.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.write(raw);
  });
}

/** The response without its Date header (the one line that differs between two sends). */
const withoutDate = (r: string) => r.replace(/\r\nDate: [^\r]*/, "");

function request(body: string, headers: Record<string, string> = {}): string {
  const lines = [
    "POST /schematics HTTP/1.1",
    "Host: 127.0.0.1",
    "Content-Type: application/yaml",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

interface Served {
  app: FactoryApp;
  logs: Record<string, unknown>[];
  metrics: FactoryMetrics;
  fast: RunningServer;
  hono: ServerType;
  honoPort: number;
}

async function serveBoth(dir: string, allowedOrigins: string[]): Promise<Served> {
  const store = await LocalStore.open(dir);
  const metrics = new FactoryMetrics();
  const logs: Record<string, unknown>[] = [];
  const logger: Logger = { log: (level, msg, fields) => logs.push({ level, msg, ...fields }) };
  const services = { schematics: new SchematicService(store.schematics(), metrics) } as FactoryServices;
  const app = createApp({ serverVersion: "v9.9.9", allowedOrigins }, [
    accessLog(logger, metrics),
    schematicRoutes(services),
  ]);
  const fast = await listen(app, "127.0.0.1:0");
  const hono = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
  applyConnectionSettings(hono as Server);
  await new Promise((r) => hono.once("listening", r));
  return { app, logs, metrics, fast, hono, honoPort: (hono.address() as AddressInfo).port };
}

describe("POST /schematics fast path", () => {
  let dir: string;
  let open: Served;
  let restricted: Served;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bf-fast-path-"));
    open = await serveBoth(join(dir, "open"), ["*"]);
    restricted = await serveBoth(join(dir, "restricted"), ["https://a.example"]);
  });
  after(async () => {
    for (const s of [open, restricted]) {
      await s.fast.close(1000);
      await new Promise((r) => s.hono.close(r));
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** Sends `raw` to both servers of `s` (Hono first, so the fast path also sees a stored schematic). */
  async function both(s: Served, raw: string): Promise<[hono: string, fast: string]> {
    const h = await exchange(s.honoPort, raw);
    const f = await exchange(s.fast.port, raw);
    return [withoutDate(h), withoutDate(f)];
  }

  it("answers byte for byte as Hono does: success, CORS allowed and denied, errors", async () => {
    const id = { "X-Request-ID": "fast-path-1" };
    const cases: [Served, string, number][] = [
      [open, request("customization:\n  extraKernelArgs:\n    - a=1\n", id), 201],
      [
        open,
        request("customization:\n  extraKernelArgs:\n    - a=1\n", { ...id, Origin: "https://x.example" }),
        201,
      ],
      [open, request("{}", { ...id, Origin: "https://x.example" }), 201],
      [restricted, request("{}", { ...id, Origin: "https://a.example" }), 201],
      [restricted, request("{}", { ...id, Origin: "https://evil.example" }), 201],
      [open, request("something:", id), 400],
      [open, request("customization:\n  bogus: 1\n", { ...id, Origin: "https://x.example" }), 400],
      [open, request("customization:\n  extraKernelArgs: {a: 1}\n", id), 400],
    ];
    for (const [s, raw, status] of cases) {
      const [h, f] = await both(s, raw);
      assert.match(h, new RegExp(`^HTTP/1\\.1 ${status} `), h);
      assert.equal(f, h, `fast path differs for ${JSON.stringify(raw)}`);
      assert.match(f, /\r\nx-request-id: fast-path-1\r\n/);
      assert.match(f, /\r\nserver: Image Factory v9\.9\.9 \(Bootforge\)\r\n/);
    }
  });

  it("a generated request ID is a fresh UUID on both paths; the rest is identical", async () => {
    const [h, f] = await both(open, request("{}"));
    const uuid = /\r\nx-request-id: ([0-9a-f-]{36})\r\n/;
    assert.match(h, uuid);
    assert.match(f, uuid);
    assert.notEqual(uuid.exec(h)?.[1], uuid.exec(f)?.[1]);
    assert.equal(f.replace(uuid, ""), h.replace(uuid, ""));
  });

  it("bodies over 1 MiB are refused alike (declared length and chunked)", async () => {
    const declared =
      "POST /schematics HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\nX-Request-ID: big\r\n\r\n";
    const [h, f] = await both(open, declared);
    assert.match(h, /^HTTP\/1\.1 413 /);
    assert.equal(f, h);
    const chunk = "a".repeat(1 << 20);
    const chunked =
      "POST /schematics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nX-Request-ID: big2\r\n\r\n" +
      `${chunk.length.toString(16)}\r\n${chunk}\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`;
    const [h2, f2] = await both(open, chunked);
    assert.match(h2, /^HTTP\/1\.1 413 /);
    assert.equal(f2, h2);
  });

  it("logs the same access-log line and observes the same metric on both paths", async () => {
    open.logs.length = 0;
    const raw = request("customization: {}\n", { "X-Request-ID": "log-check" });
    await exchange(open.honoPort, raw);
    await exchange(open.fast.port, raw);
    const mine = open.logs.filter((l) => l.requestId === "log-check");
    assert.equal(mine.length, 2);
    const strip = ({ durationMs, ...rest }: Record<string, unknown>) => {
      assert.equal(typeof durationMs, "number");
      return rest;
    };
    assert.deepEqual(strip(mine[1]!), strip(mine[0]!));
    assert.deepEqual(strip(mine[0]!), {
      level: "info",
      msg: "request",
      requestId: "log-check",
      method: "POST",
      path: "/schematics",
      status: 201,
    });
    const text = open.metrics.render();
    // Every request of this suite went to both servers: each series counts an even number.
    for (const m of text.matchAll(/^bootforge_http_request_duration_seconds_count\{(.*)\} (\d+)$/gm)) {
      assert.match(m[1]!, /^handler="\/schematics",code="\d{3}"$/);
      assert.equal(Number(m[2]) % 2, 0, m[0]);
    }
  });

  it("other routes and query strings still go through Hono", async () => {
    const r = await fetch(`${open.fast.url}/schematics?x=1`, { method: "POST", body: "{}" });
    assert.equal(r.status, 201);
    assert.equal(r.headers.get("content-type"), "application/json");
    const g = await fetch(`${open.fast.url}/schematics/${"0".repeat(64)}`);
    assert.equal(g.status, 404);
    assert.equal(await g.text(), "schematic not found\n");
  });
});

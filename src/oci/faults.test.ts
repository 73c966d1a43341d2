import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { isBootforgeError } from "../errors/index.js";
import { RegistryClient, type ClientOptions } from "./client.js";
import { anonymousKeychain, staticKeychain } from "./credentials.js";
import { sha256Of } from "./digest.js";
import { parseReference } from "./reference.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = (_q, r) => r.writeHead(404).end();
let other: Handler = (_q, r) => r.writeHead(404).end();
let server: Server;
let otherServer: Server;
let host = "";
let otherHost = "";

async function listen(s: Server): Promise<string> {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

before(async () => {
  server = createServer((q, r) => handler(q, r));
  otherServer = createServer((q, r) => other(q, r));
  host = await listen(server);
  otherHost = await listen(otherServer);
});
after(async () => {
  server.closeAllConnections();
  otherServer.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => otherServer.close(r));
});

const content = Buffer.from("layer bytes ".repeat(100));
const digest = sha256Of(content);
const client = (o: ClientOptions = {}) =>
  new RegistryClient({ insecure: true, keychain: anonymousKeychain, backoffMs: 5, maxBackoffMs: 20, ...o });
const repo = () => parseReference(`${host}/x/y`);

async function readAll(p: Promise<NodeJS.ReadableStream>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test("a blob whose bytes do not match its digest fails", async () => {
  handler = (_q, r) =>
    r.writeHead(200, { "content-length": String(content.length) }).end(Buffer.from(content).fill(65, 0, 1));
  await assert.rejects(
    readAll(client().blob(repo(), { digest, size: content.length })),
    (e) => isBootforgeError(e, "dependency") && /digest mismatch/.test(e.message),
  );
});

test("a manifest fetched by digest with other bytes fails", async () => {
  handler = (_q, r) =>
    r
      .writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json" })
      .end('{"schemaVersion":2,"manifests":[]}');
  await assert.rejects(
    client().getManifest({ ...repo(), digest }),
    (e) => isBootforgeError(e, "dependency") && /digest mismatch/.test(e.message),
  );
});

test("a truncated body fails", async () => {
  handler = (_q, r) => {
    r.writeHead(200, { "content-length": String(content.length) });
    r.write(content.subarray(0, 100));
    setTimeout(() => r.destroy(), 20);
  };
  await assert.rejects(readAll(client().blob(repo(), { digest, size: content.length })), (e) =>
    isBootforgeError(e),
  );
});

test("429 and 503 are retried with backoff, then succeed", async () => {
  let calls = 0;
  handler = (_q, r) => {
    calls++;
    if (calls === 1) r.writeHead(429, { "retry-after": "0" }).end();
    else if (calls === 2) r.writeHead(503).end();
    else r.writeHead(200).end(content);
  };
  assert.deepEqual(await readAll(client().blob(repo(), { digest, size: content.length })), content);
  assert.equal(calls, 3);
});

test("persistent 500s give up after the bounded number of retries", async () => {
  let calls = 0;
  handler = (_q, r) => {
    calls++;
    r.writeHead(500).end();
  };
  await assert.rejects(client({ retries: 2 }).blob(repo(), { digest }), (e) =>
    isBootforgeError(e, "unavailable"),
  );
  assert.equal(calls, 3);
});

test("connection resets are retried", async () => {
  let calls = 0;
  handler = (q, r) => {
    calls++;
    if (calls === 1) q.socket.destroy();
    else r.writeHead(200).end(content);
  };
  assert.deepEqual(await readAll(client().blob(repo(), { digest })), content);
  assert.equal(calls, 2);
});

test("a stalled body times out", async () => {
  handler = (_q, r) => {
    r.writeHead(200, { "content-length": String(content.length) });
    r.write(content.subarray(0, 10));
  };
  await assert.rejects(
    readAll(client({ idleTimeoutMs: 150 }).blob(repo(), { digest })),
    (e) => isBootforgeError(e, "unavailable") && /stalled/.test(e.message),
  );
});

test("slow response headers time out (and are retried a bounded number of times)", async () => {
  let calls = 0;
  handler = () => {
    calls++;
  };
  await assert.rejects(client({ timeoutMs: 100, retries: 1 }).blob(repo(), { digest }), (e) =>
    isBootforgeError(e, "unavailable"),
  );
  assert.equal(calls, 2);
});

test("cancellation aborts a request in flight", async () => {
  handler = () => undefined;
  const ctrl = new AbortController();
  setTimeout(() => ctrl.abort(), 50);
  await assert.rejects(
    client({ signal: ctrl.signal }).blob(repo(), { digest }),
    (e) => isBootforgeError(e) && /cancelled/.test(e.message),
  );
});

test("blob redirects are followed without sending credentials to another origin", async () => {
  let seenAuth: string | undefined = "unset";
  handler = (q, r) => {
    if (!q.headers.authorization) {
      r.writeHead(401, { "www-authenticate": 'Basic realm="test"' }).end();
      return;
    }
    r.writeHead(307, { location: `http://${otherHost}/storage/blob?sig=secret` }).end();
  };
  other = (q, r) => {
    seenAuth = q.headers.authorization;
    r.writeHead(200).end(content);
  };
  const c = client({ keychain: staticKeychain({ [host]: { username: "u", password: "p" } }) });
  assert.deepEqual(await readAll(c.blob(repo(), { digest, size: content.length })), content);
  assert.equal(seenAuth, undefined);
});

test("chunked upload sends PATCH ranges and a final PUT", async () => {
  const ranges: string[] = [];
  let received = Buffer.alloc(0);
  handler = (q, r) => {
    const chunks: Buffer[] = [];
    q.on("data", (b: Buffer) => chunks.push(b));
    q.on("end", () => {
      const url = new URL(q.url ?? "/", "http://x");
      if (q.method === "HEAD") return r.writeHead(404).end();
      if (q.method === "POST") return r.writeHead(202, { location: "/v2/x/y/blobs/uploads/u1" }).end();
      if (q.method === "PATCH") {
        ranges.push(String(q.headers["content-range"]));
        received = Buffer.concat([received, ...chunks]);
        return r.writeHead(202, { location: `/v2/x/y/blobs/uploads/u1?n=${ranges.length}` }).end();
      }
      if (q.method === "PUT" && url.searchParams.get("digest") === sha256Of(received))
        return r.writeHead(201).end();
      r.writeHead(400).end();
    });
  };
  const { Readable } = await import("node:stream");
  await client({ chunkSize: 500 }).pushBlob(repo(), digest, {
    size: content.length,
    open: () => Readable.from([content.subarray(0, 700), content.subarray(700)]),
  });
  assert.deepEqual(ranges, ["0-499", "500-999", "1000-1199"]);
  assert.deepEqual(received, content);
});

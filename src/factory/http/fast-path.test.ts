import assert from "node:assert/strict";
import { createServer, type IncomingMessage } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { test } from "node:test";
import { rawHeader } from "./fast-path.js";

/** Sends `head` (request line and headers) to a node:http server and returns the request it saw. */
async function seen(head: string): Promise<IncomingMessage> {
  let got: IncomingMessage | undefined;
  const server = createServer((req, res) => {
    got = req;
    req.resume();
    req.on("end", () => res.end());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const sock = connect(port, "127.0.0.1", () => sock.write(`${head}\r\nConnection: close\r\n\r\n`));
      sock.on("data", () => undefined);
      sock.on("close", () => resolve());
      sock.on("error", reject);
    });
  } finally {
    server.close();
  }
  assert.ok(got);
  return got;
}

test("rawHeader reads what incoming.headers would, repeated values joined the same way", async () => {
  const cases = [
    "POST /schematics HTTP/1.1\r\nHost: x\r\nContent-Length: 0",
    "POST /schematics HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\nORIGIN: https://b.example\r\nContent-Length: 0",
    "POST /schematics HTTP/1.1\r\nHost: x\r\nx-request-id: one\r\nX-Request-Id: two\r\nContent-Length: 0",
    "POST /schematics HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc-123\r\nContent-Length: 0",
    "POST /schematics HTTP/1.1\r\nHost: x\r\nX-Request-IDs: not-it\r\nOrigin:\r\nContent-Length: 0",
  ];
  for (const head of cases) {
    const req = await seen(head);
    for (const name of ["origin", "x-request-id", "content-length", "host"]) {
      assert.equal(rawHeader(req.rawHeaders, name), req.headers[name], `${name} in ${JSON.stringify(head)}`);
    }
  }
});

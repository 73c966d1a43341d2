/**
 * Serves a stored object as a download with the upstream headers (`Content-Type`,
 * `Content-Length`, `Content-Disposition`) and, beyond upstream, `ETag`, `If-None-Match`,
 * `Accept-Ranges` and single `Range` requests, streaming from disk.
 *
 * The response is always a Web `Response` (so middleware sees and amends its status and headers,
 * and `app.request()` works without sockets). When the object is a local file, the response is
 * also tagged with that file slice: {@link sendTaggedFile}, called by the app's `fetch` once every
 * middleware has run, then writes the final status and headers itself and pipes the file into the
 * Node socket with 1 MiB reads. That skips the Web-stream hop (64 KiB chunks through
 * `Readable.toWeb` and @hono/node-server's promise-per-chunk reader loop), which halved
 * throughput against nginx `sendfile`.
 */
import { createReadStream } from "node:fs";
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { StoredObject } from "../storage/types.js";
import { plainError } from "./plain-error.js";

export interface ServeOptions {
  method: string;
  contentType: string;
  /** File name for Content-Disposition. */
  filename: string;
  headers: Headers;
}

interface ByteRange {
  start: number;
  end: number;
}

/** Parses a single `bytes=` range against `size`; "unsatisfiable", or undefined to serve it all. */
export function parseRange(header: string | null, size: number): ByteRange | "unsatisfiable" | undefined {
  if (header === null) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Multi-range and malformed headers are ignored (RFC 9110 allows serving the full body).
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

function quoteFilename(name: string): string {
  return name.replace(/["\\\r\n]/g, "_");
}

function etagMatches(header: string | null, etag: string): boolean {
  if (header === null) return false;
  return header.split(",").some((t) => {
    const v = t.trim().replace(/^W\//, "");
    return v === "*" || v === etag;
  });
}

/** A byte range of a local file, inclusive. */
interface FileSlice {
  path: string;
  start: number;
  end: number;
}

/** Responses whose body is exactly this file slice (identity is lost if anything re-wraps them). */
const fileBodies = new WeakMap<Response, FileSlice>();

/**
 * Read size per download. 1 MiB reads (fewer syscalls and socket writes per GiB) bring a single
 * download to nginx `sendfile` speed, but each download then holds up to ~2 MiB (a read and a
 * write in flight): with 200 concurrent downloads that took the load test past 300 MiB RSS and
 * starved other requests (create p99 12.8 s against 0.4 s with 64 KiB). So only the first few
 * concurrent downloads get the large reads; the rest use fs's default 64 KiB.
 */
const LARGE_CHUNK = 1 << 20;
const SMALL_CHUNK = 64 << 10;
const LARGE_CHUNK_DOWNLOADS = 8;
let activeDownloads = 0;

/**
 * A Web stream over `open()` that opens nothing until first read: a tagged response sent by
 * {@link sendTaggedFile} never reads its Web body, and an eagerly opened file would leak its fd.
 */
function lazyBody(open: () => Readable): ReadableStream<Uint8Array> {
  let it: AsyncIterator<Buffer> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        it ??= open()[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const r = await it.next();
        if (r.done === true) ctrl.close();
        else ctrl.enqueue(new Uint8Array(r.value.buffer, r.value.byteOffset, r.value.byteLength));
      },
      async cancel() {
        // Ends the iterator, which destroys the underlying file stream.
        await it?.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

function fileResponse(obj: StoredObject, status: number, headers: Record<string, string>, range?: ByteRange) {
  const res = new Response(
    lazyBody(() => obj.open(range)),
    { status, headers },
  );
  if (obj.path !== undefined) {
    fileBodies.set(res, { path: obj.path, start: range?.start ?? 0, end: range?.end ?? obj.size - 1 });
  }
  return res;
}

/**
 * When `res` is a tagged file response, writes its status and headers to `outgoing` and pipes
 * the file after them; returns false (nothing written) otherwise. Headers are converted as
 * @hono/node-server converts them, so the bytes on the wire are those of the Web path.
 */
export function sendTaggedFile(res: Response, outgoing: ServerResponse): boolean {
  const file = fileBodies.get(res);
  if (file === undefined || outgoing.headersSent || outgoing.destroyed) return false;
  fileBodies.delete(res);
  const headers: Record<string, string | string[]> = {};
  const cookies = res.headers.getSetCookie();
  for (const [k, v] of res.headers) if (k !== "set-cookie") headers[k] = v;
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  headers["content-type"] ??= "text/plain; charset=UTF-8";
  outgoing.writeHead(res.status, headers);
  // An empty range would make createReadStream read to EOF; a zero-byte file sends no body.
  if (file.end < file.start) {
    outgoing.end();
    return true;
  }
  // The headers leave now rather than with the first body chunk: the client's first byte then
  // does not wait for the file to be opened and a first 1 MiB read (about half the time to first
  // byte of a cached download, measured against HEAD).
  outgoing.flushHeaders();
  const highWaterMark = activeDownloads < LARGE_CHUNK_DOWNLOADS ? LARGE_CHUNK : SMALL_CHUNK;
  activeDownloads++;
  const src = createReadStream(file.path, { start: file.start, end: file.end, highWaterMark });
  // A vanished file or a client that went away ends the exchange; pipeline destroys both sides,
  // as the Web path does (the client sees a short body). Nothing to report beyond that.
  pipeline(src, outgoing)
    .catch(() => undefined)
    .finally(() => activeDownloads--);
  return true;
}

/** Builds the response for `obj`. */
export function serveObject(obj: StoredObject, opts: ServeOptions): Response {
  const base: Record<string, string> = {
    "Content-Type": opts.contentType,
    "Content-Disposition": `attachment; filename="${quoteFilename(opts.filename)}"`,
    "Accept-Ranges": "bytes",
    ETag: obj.etag,
  };
  if (etagMatches(opts.headers.get("if-none-match"), obj.etag)) {
    return new Response(null, { status: 304, headers: { ETag: obj.etag, "Accept-Ranges": "bytes" } });
  }
  let range = parseRange(opts.headers.get("range"), obj.size);
  const ifRange = opts.headers.get("if-range");
  if (range !== undefined && ifRange !== null && ifRange !== obj.etag) range = undefined;
  if (range === "unsatisfiable") {
    return plainError(416, "requested range not satisfiable", { "Content-Range": `bytes */${obj.size}` });
  }
  const head = opts.method === "HEAD";
  if (range !== undefined) {
    const len = range.end - range.start + 1;
    const headers = {
      ...base,
      "Content-Length": String(len),
      "Content-Range": `bytes ${range.start}-${range.end}/${obj.size}`,
    };
    return head ? new Response(null, { status: 206, headers }) : fileResponse(obj, 206, headers, range);
  }
  const headers = { ...base, "Content-Length": String(obj.size) };
  return head ? new Response(null, { status: 200, headers }) : fileResponse(obj, 200, headers);
}

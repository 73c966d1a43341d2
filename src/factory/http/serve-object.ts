/**
 * Serves a stored object as a download with the upstream headers (`Content-Type`,
 * `Content-Length`, `Content-Disposition`) and, beyond upstream, `ETag`, `If-None-Match`,
 * `Accept-Ranges` and single `Range` requests, streaming from disk.
 */
import { Readable } from "node:stream";
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
    return new Response(head ? null : (Readable.toWeb(obj.open(range)) as ReadableStream<Uint8Array>), {
      status: 206,
      headers: {
        ...base,
        "Content-Length": String(len),
        "Content-Range": `bytes ${range.start}-${range.end}/${obj.size}`,
      },
    });
  }
  return new Response(head ? null : (Readable.toWeb(obj.open()) as ReadableStream<Uint8Array>), {
    status: 200,
    headers: { ...base, "Content-Length": String(obj.size) },
  });
}

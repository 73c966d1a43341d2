/**
 * A gzip member (RFC 1952) byte-identical to Go's `compress/gzip` writer with no header fields
 * set: mtime 0, XFL 2 at level 9 and 4 at level 1, OS 255, then Go's DEFLATE, CRC-32 and size.
 */
import { crc32 } from "node:zlib";
import { DEFAULT_COMPRESSION, goDeflate } from "./deflate.js";

/** `gzip.NewWriterLevel(w, level)`, one `Write(input)`, `Close()`. */
export function goGzip(input: Uint8Array, level: number = DEFAULT_COMPRESSION): Uint8Array {
  const body = goDeflate(input, level);
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  const out = new Uint8Array(10 + body.length + 8);
  out.set([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff]);
  out.set(body, 10);
  const trailer = new DataView(out.buffer, 10 + body.length, 8);
  trailer.setUint32(0, crc32(input) >>> 0, true);
  // ISIZE is the input length modulo 2^32.
  trailer.setUint32(4, input.length >>> 0, true);
  return out;
}

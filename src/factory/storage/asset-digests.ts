/**
 * The SHA-256 and SHA-512 of a stored asset, recorded by the backends when the asset is written
 * so that checksum and signature requests never read the asset again.
 */
import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { BootforgeError } from "../../errors/index.js";

/** Hex digests of an asset's bytes. */
export interface AssetDigests {
  readonly sha256: string;
  readonly sha512: string;
}

/** Both digests of a stream, in one pass. */
export async function digestStream(stream: Readable): Promise<AssetDigests> {
  const a = createHash("sha256");
  const b = createHash("sha512");
  for await (const chunk of stream) {
    a.update(chunk as Buffer);
    b.update(chunk as Buffer);
  }
  return { sha256: a.digest("hex"), sha512: b.digest("hex") };
}

const SHA256 = /^[0-9a-f]{64}$/;
const SHA512 = /^[0-9a-f]{128}$/;

/** The recorded form (JSON), as kept beside an asset. */
export function encodeDigests(d: AssetDigests): string {
  return `${JSON.stringify({ sha256: d.sha256, sha512: d.sha512 })}\n`;
}

/** Parses a recorded form; a damaged record is an `io` error, never a wrong checksum served. */
export function decodeDigests(text: string, what: string): AssetDigests {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    v = undefined;
  }
  const o = v as { sha256?: unknown; sha512?: unknown } | undefined;
  if (
    typeof o?.sha256 !== "string" ||
    !SHA256.test(o.sha256) ||
    typeof o.sha512 !== "string" ||
    !SHA512.test(o.sha512)
  ) {
    throw new BootforgeError("io", `storage: the recorded digests of ${what} are damaged`);
  }
  return { sha256: o.sha256, sha512: o.sha512 };
}

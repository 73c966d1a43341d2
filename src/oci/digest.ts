/**
 * Content digests: parsing, hashing, and a pass-through stream that verifies size and digest
 * while bytes flow, so a layer is never buffered just to be checked.
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { BootforgeError, type ErrorKind } from "../errors/index.js";

/** A validated `algorithm:hex` digest string. */
export type Digest = string;

const PATTERNS: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

/** Validates a digest string (`sha256:<64 hex>` or `sha512:<128 hex>`) and returns it. */
export function parseDigest(s: string): Digest {
  const i = s.indexOf(":");
  const alg = s.slice(0, i);
  const pat = PATTERNS[alg];
  if (i <= 0 || !pat || !pat.test(s.slice(i + 1))) {
    throw new BootforgeError("invalid-input", `invalid digest ${JSON.stringify(s.slice(0, 140))}`);
  }
  return s;
}

/** True when `s` is a well-formed digest. */
export function isDigest(s: string): boolean {
  const i = s.indexOf(":");
  const pat = PATTERNS[s.slice(0, i)];
  return i > 0 && pat !== undefined && pat.test(s.slice(i + 1));
}

/** The algorithm part of a digest (`sha256`). */
export function digestAlgorithm(d: Digest): string {
  return d.slice(0, d.indexOf(":"));
}

/** The hex part of a digest. */
export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(":") + 1);
}

/** sha256 digest of in-memory bytes (manifests, configs). */
export function sha256Of(bytes: Uint8Array | string): Digest {
  return "sha256:" + createHash("sha256").update(bytes).digest("hex");
}

/** Digest of bytes with the algorithm of `like` (so sha512 manifests verify too). */
export function digestOfBytes(bytes: Uint8Array, like: Digest = "sha256:"): Digest {
  const alg = digestAlgorithm(like) || "sha256";
  return `${alg}:` + createHash(alg).update(bytes).digest("hex");
}

/** Throws unless `bytes` hash to `expected`. */
export function verifyBytes(
  bytes: Uint8Array,
  expected: Digest,
  what: string,
  kind: ErrorKind = "dependency",
): void {
  const got = digestOfBytes(bytes, expected);
  if (got !== expected) {
    throw new BootforgeError(kind, `digest mismatch for ${what}: expected ${expected}, got ${got}`);
  }
}

/** A pass-through stream that hashes and counts; read `digest`/`size` after it ends. */
export class HashingStream extends Transform {
  readonly #hash: Hash;
  readonly #alg: string;
  #size = 0;
  #digest: Digest | undefined;

  constructor(algorithm = "sha256") {
    super();
    this.#alg = algorithm;
    this.#hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.#digest = `${this.#alg}:${this.#hash.digest("hex")}`;
    cb();
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** The digest, available once the stream has ended. */
  get digest(): Digest {
    if (!this.#digest) throw new BootforgeError("internal", "digest read before the stream ended");
    return this.#digest;
  }
}

/** Options for {@link DigestVerifier}. */
export interface VerifyOptions {
  /** Expected size in bytes; more or fewer bytes is an error. */
  size?: number;
  /** What is being read, for the error message (e.g. `blob sha256:… of ghcr.io/x`). */
  what?: string;
  /** Error kind on mismatch: `dependency` for remote content, `io` for local files. */
  kind?: ErrorKind;
}

/**
 * Passes bytes through and fails the stream (instead of ending it) when the total size or digest
 * differs from what was expected, so a consumer never sees a clean end for bad content.
 */
export class DigestVerifier extends Transform {
  readonly #expected: Digest;
  readonly #hash: Hash;
  readonly #opts: VerifyOptions;
  #size = 0;

  constructor(expected: Digest, opts: VerifyOptions = {}) {
    super();
    this.#expected = parseDigest(expected);
    this.#hash = createHash(digestAlgorithm(expected));
    this.#opts = opts;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#size += chunk.length;
    const want = this.#opts.size;
    if (want !== undefined && this.#size > want) {
      cb(this.#error(`size mismatch: more than the expected ${want} bytes`));
      return;
    }
    this.#hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const want = this.#opts.size;
    if (want !== undefined && this.#size !== want) {
      cb(this.#error(`size mismatch: expected ${want} bytes, got ${this.#size} (truncated?)`));
      return;
    }
    const got = `${digestAlgorithm(this.#expected)}:${this.#hash.digest("hex")}`;
    if (got !== this.#expected) {
      cb(this.#error(`digest mismatch: expected ${this.#expected}, got ${got}`));
      return;
    }
    cb();
  }

  #error(msg: string): BootforgeError {
    const what = this.#opts.what ?? this.#expected;
    return new BootforgeError(this.#opts.kind ?? "dependency", `${what}: ${msg}`);
  }
}

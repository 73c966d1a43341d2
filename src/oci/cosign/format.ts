/**
 * The cosign "legacy" signature format, as cosign writes it and containers/image reads it: a
 * signature for manifest `sha256:<hex>` is an OCI image manifest tagged `sha256-<hex>.sig` in the
 * same repository; each layer is one "simple signing" payload (JSON naming the signed digest)
 * with its base64 signature in a layer annotation.
 */
import { BootforgeError } from "../../errors/index.js";
import { digestAlgorithm, digestHex, parseDigest } from "../digest.js";

/** Media type of a simple-signing payload layer. */
export const SIMPLE_SIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json";
/** Layer annotation holding the base64 signature of the payload. */
export const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
/** `critical.type` of a container image signature payload. */
export const SIGNATURE_TYPE = "cosign container image signature";
/** Artifact type of a Sigstore bundle attached as an OCI referrer (cosign's new bundle format). */
export const SIGSTORE_BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
// Payloads are a few hundred bytes; anything far larger is not a signature.
export const MAX_PAYLOAD = 64 << 10;

/** The tag of the signature of `digest`: `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  parseDigest(digest);
  return `${digestAlgorithm(digest)}-${digestHex(digest)}.sig`;
}

/**
 * The payload cosign signs for an image: byte-identical to cosign's (Go `json.Marshal` of the
 * simple-signing struct; `optional` is null when there are no annotations).
 */
export function signaturePayload(dockerReference: string, digest: string): Buffer {
  parseDigest(digest);
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { "docker-reference": dockerReference },
        image: { "docker-manifest-digest": digest },
        type: SIGNATURE_TYPE,
      },
      optional: null,
    }),
  );
}

/** What a payload claims (checked only after its signature verified). */
export interface PayloadClaims {
  dockerReference: string;
  digest: string;
}

/** Parses a simple-signing payload, strictly enough that a wrong type or shape is refused. */
export function parsePayload(bytes: Uint8Array): PayloadClaims {
  const bad = (why: string) => new BootforgeError("dependency", `invalid signature payload: ${why}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw bad("not JSON");
  }
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  const critical = obj(obj(doc)?.critical);
  if (critical === undefined) throw bad("no critical section");
  if (critical.type !== SIGNATURE_TYPE) throw bad(`type ${JSON.stringify(critical.type)}`);
  const digest = obj(critical.image)?.["docker-manifest-digest"];
  const ref = obj(critical.identity)?.["docker-reference"];
  if (typeof digest !== "string" || typeof ref !== "string") throw bad("missing digest or identity");
  return { digest, dockerReference: ref };
}

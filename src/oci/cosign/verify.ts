/**
 * Verifies cosign-compatible signatures of an image digest against public keys, offline (no
 * transparency log, no certificates), as `cosign verify --key … --insecure-ignore-tlog` does:
 * first Sigstore bundles attached as OCI referrers (cosign's new format: a DSSE envelope with an
 * in-toto statement naming the digest), then the legacy `sha256-<hex>.sig` tag. One valid
 * signature by one of the keys over a payload naming this digest is enough. The identity a
 * payload claims is not enforced: mirrors and the factory's front end re-home repositories.
 */
import { BootforgeError } from "../../errors/index.js";
import { digestAlgorithm, digestHex } from "../digest.js";
import { readSmallBlob } from "../image.js";
import { parseManifest, type Descriptor } from "../media-types.js";
import type { ImageSource } from "../source.js";
import {
  MAX_PAYLOAD,
  SIGNATURE_ANNOTATION,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
  parsePayload,
  signatureTag,
} from "./format.js";
import type { VerificationKey } from "./keys.js";
import type { SignatureSource } from "./signature-source.js";

/** The result of a check: which kind of signature verified, or why none did. */
export type SignatureCheck = { ok: true; via: "legacy" | "bundle" } | { ok: false; reason: string };

const MAX_BUNDLE = 1 << 20;
const MAX_SIGNATURES = 64;
const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** Strict standard base64 (what cosign writes); anything else is not a signature. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return undefined;
  return Buffer.from(text, "base64");
}

/** A signature source as the ImageSource readSmallBlob wants (it has the two methods used). */
export function asSource(src: SignatureSource): ImageSource {
  return {
    description: src.description,
    resolve: () => Promise.reject(new Error("not used")),
    manifest: (d) => src.manifest(d),
    blob: (d) => src.blob(d),
  };
}

/** Checks the legacy `.sig` signatures of `digest`. */
export async function checkLegacySignature(
  src: SignatureSource,
  digest: string,
  keys: readonly VerificationKey[],
): Promise<SignatureCheck> {
  const tag = signatureTag(digest);
  const data = await src.tagged(tag);
  if (data === undefined) return { ok: false, reason: `no signature (${src.repository}:${tag} is missing)` };
  const parsed = parseManifest(data.bytes, data.mediaType);
  if (parsed.kind !== "manifest") return { ok: false, reason: `${tag} is not an image manifest` };
  const layers = parsed.manifest.layers.filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE);
  if (layers.length === 0) return { ok: false, reason: `${tag} holds no simple-signing payload` };
  let reason = "no signature was made by the configured key";
  for (const layer of layers.slice(0, MAX_SIGNATURES)) {
    const sig = decodeBase64(layer.annotations?.[SIGNATURE_ANNOTATION] ?? "");
    if (sig === undefined || sig.length === 0) {
      reason = `a payload of ${tag} has no valid ${SIGNATURE_ANNOTATION} annotation`;
      continue;
    }
    const payload = await readSmallBlob(asSource(src), layer, MAX_PAYLOAD);
    if (!keys.some((k) => k.verify(payload, sig))) continue;
    const claims = parsePayload(payload);
    if (claims.digest === digest) return { ok: true, via: "legacy" };
    reason = `the signed payload names ${claims.digest}, not ${digest}`;
  }
  return { ok: false, reason };
}

/** DSSE pre-authentication encoding (the bytes a DSSE signature covers). */
export function dssePae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType);
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ]);
}

/** Whether a Sigstore bundle (JSON) carries a DSSE statement about `digest` signed by a key. */
export function bundleVerifies(
  bundleBytes: Buffer,
  digest: string,
  keys: readonly VerificationKey[],
): boolean {
  let bundle: unknown;
  try {
    bundle = JSON.parse(bundleBytes.toString("utf8"));
  } catch {
    return false;
  }
  const env = (
    bundle as { dsseEnvelope?: { payload?: unknown; payloadType?: unknown; signatures?: unknown } }
  )?.dsseEnvelope;
  if (typeof env?.payload !== "string" || env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return false;
  if (!Array.isArray(env.signatures)) return false;
  const payload = decodeBase64(env.payload);
  if (payload === undefined) return false;
  const pae = dssePae(env.payloadType, payload);
  const signed = env.signatures.slice(0, MAX_SIGNATURES).some((s: unknown) => {
    const raw = (s as { sig?: unknown } | null)?.sig;
    const sig = typeof raw === "string" ? decodeBase64(raw) : undefined;
    return sig !== undefined && sig.length > 0 && keys.some((k) => k.verify(pae, sig));
  });
  if (!signed) return false;
  return statementNamesDigest(payload, digest);
}

/** Whether an in-toto statement (a DSSE payload) names `digest` among its subjects. */
export function statementNamesDigest(payload: Uint8Array, digest: string): boolean {
  let statement: { subject?: { digest?: Record<string, unknown> }[] };
  try {
    statement = JSON.parse(Buffer.from(payload).toString("utf8")) as typeof statement;
  } catch {
    return false;
  }
  const alg = digestAlgorithm(digest);
  const hex = digestHex(digest);
  return (statement.subject ?? []).some((s) => s?.digest?.[alg] === hex);
}

/** Checks Sigstore bundles attached to `digest` as referrers. */
export async function checkBundleReferrers(
  src: SignatureSource,
  digest: string,
  keys: readonly VerificationKey[],
): Promise<SignatureCheck> {
  const refs = await src.bundleReferrers(digest);
  for (const d of refs.slice(0, MAX_SIGNATURES)) {
    const m = parseManifest((await src.manifest(d)).bytes, d.mediaType);
    if (m.kind !== "manifest") continue;
    const layer: Descriptor | undefined = m.manifest.layers.find(
      (l) => l.mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE,
    );
    if (layer === undefined) continue;
    const bytes = await readSmallBlob(asSource(src), layer, MAX_BUNDLE);
    if (bundleVerifies(bytes, digest, keys)) return { ok: true, via: "bundle" };
  }
  return { ok: false, reason: refs.length ? "no attached Sigstore bundle verifies" : "no Sigstore bundle" };
}

/** Checks every supported kind of signature of `digest`; the first that verifies wins. */
export async function checkSignature(
  src: SignatureSource,
  digest: string,
  keys: readonly VerificationKey[],
): Promise<SignatureCheck> {
  const bundle = await checkBundleReferrers(src, digest, keys);
  if (bundle.ok) return bundle;
  return checkLegacySignature(src, digest, keys);
}

/** Like {@link checkSignature}, but a missing or bad signature is an error naming the image. */
export async function verifySignature(
  src: SignatureSource,
  digest: string,
  keys: readonly VerificationKey[],
  what: string,
): Promise<void> {
  let res: SignatureCheck;
  try {
    res = await checkSignature(src, digest, keys);
  } catch (e) {
    throw verificationFailed(what, digest, (e as Error).message, e);
  }
  if (!res.ok) throw verificationFailed(what, digest, res.reason);
}

/** The error of a failed signature check of `what@digest` (502 from the factory, exit 5). */
export function verificationFailed(
  what: string,
  digest: string,
  reason: string,
  cause?: unknown,
): BootforgeError {
  return new BootforgeError(
    "dependency",
    `signature verification of ${what}@${digest} failed: ${reason}`,
    cause === undefined ? {} : { cause },
  );
}

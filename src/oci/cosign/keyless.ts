/**
 * Keyless (Fulcio certificate + Rekor log) verification of image signatures, offline, as
 * `cosign verify --certificate-identity-regexp … --certificate-oidc-issuer …` does. The
 * cryptography — certificate chain to a trusted CA at the log's integration time, embedded SCTs
 * against the CT logs, the signed entry timestamp or inclusion proof against the Rekor keys, the
 * signature over the payload — is sigstore-js (`@sigstore/verify`); this module only turns what
 * a registry holds into Sigstore bundles and applies the policy: identity (subject regexp), OIDC
 * issuer (exact or regexp), and the digest the signed payload names.
 *
 * Both forms cosign writes are read: the legacy `sha256-<hex>.sig` tag (a simple-signing payload
 * per layer, with the certificate, chain and Rekor bundle in annotations; converted into a v0.1
 * Sigstore bundle) and Sigstore bundles attached as OCI referrers (a DSSE envelope holding an
 * in-toto statement about the image digest).
 */
import { createHash } from "node:crypto";
import { bundleFromJSON, type Bundle } from "@sigstore/bundle";
import { Verifier, toSignedEntity, type Signer } from "@sigstore/verify";
import { BootforgeError } from "../../errors/index.js";
import { readSmallBlob } from "../image.js";
import { parseManifest } from "../media-types.js";
import {
  MAX_PAYLOAD,
  SIGNATURE_ANNOTATION,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  SIMPLE_SIGNING_MEDIA_TYPE,
  parsePayload,
  signatureTag,
} from "./format.js";
import type { SignatureSource } from "./signature-source.js";
import type { TrustRoot } from "./trusted-root.js";
import { asSource, decodeBase64, statementNamesDigest, verificationFailed } from "./verify.js";

/** Layer annotation: PEM of the Fulcio leaf certificate. */
export const CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate";
/** Layer annotation: PEM of the issuing chain (intermediates, root). */
export const CHAIN_ANNOTATION = "dev.sigstore.cosign/chain";
/** Layer annotation: the Rekor "bundle" (signed entry timestamp and entry). */
export const REKOR_BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle";
/** Media type of the bundle a legacy signature is converted into (SET, no inclusion proof). */
export const BUNDLE_V01_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle+json;version=0.1";

export { SIDERO_ISSUER, SIDERO_SUBJECT_REGEXP } from "./sidero-identity.js";

const MAX_BUNDLE = 1 << 20;
const MAX_SIGNATURES = 64;
const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";

/** Who may have signed: certificate identity and OIDC issuer. */
export interface KeylessPolicy {
  /** Regular expression the certificate's SAN (email or URI) must match (unanchored, as Go's). */
  subjectRegExp: string;
  /** Exact OIDC issuer; ignored when `issuerRegExp` is set. */
  issuer?: string;
  /** Regular expression the OIDC issuer must match. */
  issuerRegExp?: string;
}

/** A signature that verified: its form and who signed it. */
export interface VerifiedSignature {
  via: "legacy" | "bundle";
  identity: string;
  issuer: string;
  /** When the log integrated it (from the verified entry). */
  integratedTime?: Date;
}

/** All signatures of a digest that verified, and why the others did not. */
export interface KeylessResult {
  verified: VerifiedSignature[];
  failures: string[];
}

/** A compiled policy plus trust root: checks one bundle at a time. */
export class KeylessVerifier {
  readonly #verifier: Verifier;
  readonly #subject: RegExp;
  readonly #issuer: (s: string) => boolean;
  readonly policy: KeylessPolicy;
  readonly root: TrustRoot;

  constructor(root: TrustRoot, policy: KeylessPolicy) {
    const compile = (what: string, re: string): RegExp => {
      try {
        return new RegExp(re, "u");
      } catch (e) {
        throw new BootforgeError("invalid-input", `${what} ${JSON.stringify(re)}: ${(e as Error).message}`);
      }
    };
    this.root = root;
    this.policy = policy;
    this.#verifier = new Verifier(root.material);
    this.#subject = compile("certificate identity regexp", policy.subjectRegExp);
    if (policy.issuerRegExp !== undefined && policy.issuerRegExp !== "") {
      const re = compile("certificate OIDC issuer regexp", policy.issuerRegExp);
      this.#issuer = (s) => re.test(s);
    } else if (policy.issuer !== undefined && policy.issuer !== "") {
      const want = policy.issuer;
      this.#issuer = (s) => s === want;
    } else {
      throw new BootforgeError("invalid-input", "keyless verification needs an OIDC issuer or issuer regexp");
    }
  }

  /**
   * Verifies a bundle (cryptography by sigstore-js, then the identity policy); `artifact` is the
   * signed payload of a message-signature bundle. Returns the signer or throws with the reason.
   */
  verifyBundle(bundle: Bundle, artifact?: Buffer): { identity: string; issuer: string; time?: Date } {
    let signer: Signer;
    try {
      signer = this.#verifier.verify(toSignedEntity(bundle, artifact));
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new Error(`${typeof code === "string" ? `${code}: ` : ""}${(e as Error).message}`, { cause: e });
    }
    const identity = signer.identity?.subjectAlternativeName ?? "";
    const issuer = signer.identity?.extensions?.issuer ?? "";
    if (!this.#subject.test(identity))
      throw new Error(
        `certificate identity ${JSON.stringify(identity)} does not match ${JSON.stringify(this.policy.subjectRegExp)}`,
      );
    if (!this.#issuer(issuer))
      throw new Error(
        `certificate OIDC issuer ${JSON.stringify(issuer)} does not match ${JSON.stringify(
          this.policy.issuerRegExp || this.policy.issuer,
        )}`,
      );
    const times = bundle.verificationMaterial.tlogEntries.map((t) => Number(t.integratedTime));
    const time = times.length > 0 ? new Date(Math.min(...times) * 1000) : undefined;
    return { identity, issuer, ...(time ? { time } : {}) };
  }
}

/** The DER certificates of a PEM text (one or more blocks). */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  for (const m of pem.matchAll(/-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/g))
    out.push(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
  return out;
}

/** cosign's Rekor bundle annotation. */
interface RekorBundle {
  SignedEntryTimestamp: string;
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string };
}

function parseRekorBundle(text: string): RekorBundle {
  const doc = JSON.parse(text) as Partial<RekorBundle> | null;
  const p = doc?.Payload;
  if (
    typeof doc?.SignedEntryTimestamp !== "string" ||
    typeof p?.body !== "string" ||
    typeof p.integratedTime !== "number" ||
    typeof p.logIndex !== "number" ||
    typeof p.logID !== "string" ||
    !/^[0-9a-f]{64}$/.test(p.logID)
  )
    throw new Error(`${REKOR_BUNDLE_ANNOTATION} is not a Rekor bundle`);
  return doc as RekorBundle;
}

/**
 * The Sigstore bundle (v0.1 JSON) equivalent to a legacy cosign signature layer: the payload's
 * message signature, the certificate chain from the annotations, and the Rekor entry with its
 * signed entry timestamp. The chain is carried as cosign does; trust comes only from the root.
 */
export function legacyToBundleJson(
  payload: Buffer,
  annotations: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const sig = decodeBase64(annotations[SIGNATURE_ANNOTATION] ?? "");
  if (sig === undefined || sig.length === 0) throw new Error(`no valid ${SIGNATURE_ANNOTATION} annotation`);
  const certPem = annotations[CERTIFICATE_ANNOTATION];
  if (certPem === undefined)
    throw new Error(`no ${CERTIFICATE_ANNOTATION} annotation (not a keyless signature)`);
  const certs = [...pemCertificates(certPem), ...pemCertificates(annotations[CHAIN_ANNOTATION] ?? "")];
  if (certs.length === 0) throw new Error(`${CERTIFICATE_ANNOTATION} holds no PEM certificate`);
  const tlogEntries: unknown[] = [];
  const rekorText = annotations[REKOR_BUNDLE_ANNOTATION];
  if (rekorText !== undefined) {
    const rekor = parseRekorBundle(rekorText);
    const body = JSON.parse(Buffer.from(rekor.Payload.body, "base64").toString("utf8")) as {
      kind?: unknown;
      apiVersion?: unknown;
    };
    if (typeof body.kind !== "string" || typeof body.apiVersion !== "string")
      throw new Error("the Rekor entry names no kind and version");
    tlogEntries.push({
      logIndex: String(rekor.Payload.logIndex),
      logId: { keyId: Buffer.from(rekor.Payload.logID, "hex").toString("base64") },
      kindVersion: { kind: body.kind, version: body.apiVersion },
      integratedTime: String(rekor.Payload.integratedTime),
      inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
      canonicalizedBody: rekor.Payload.body,
    });
  }
  return {
    mediaType: BUNDLE_V01_MEDIA_TYPE,
    verificationMaterial: {
      x509CertificateChain: { certificates: certs.map((c) => ({ rawBytes: c.toString("base64") })) },
      tlogEntries,
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    messageSignature: {
      messageDigest: {
        algorithm: "SHA2_256",
        digest: createHash("sha256").update(payload).digest("base64"),
      },
      signature: sig.toString("base64"),
    },
  };
}

/** Checks every keyless legacy signature (`sha256-<hex>.sig` layers) of `digest`. */
export async function keylessLegacySignatures(
  src: SignatureSource,
  digest: string,
  verifier: KeylessVerifier,
): Promise<KeylessResult> {
  const tag = signatureTag(digest);
  const res: KeylessResult = { verified: [], failures: [] };
  const data = await src.tagged(tag);
  if (data === undefined) {
    res.failures.push(`no signature (${src.repository}:${tag} is missing)`);
    return res;
  }
  const parsed = parseManifest(data.bytes, data.mediaType);
  if (parsed.kind !== "manifest") {
    res.failures.push(`${tag} is not an image manifest`);
    return res;
  }
  const layers = parsed.manifest.layers.filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE);
  if (layers.length === 0) res.failures.push(`${tag} holds no simple-signing payload`);
  for (const layer of layers.slice(0, MAX_SIGNATURES)) {
    try {
      const annotations = layer.annotations ?? {};
      if (annotations[CERTIFICATE_ANNOTATION] === undefined) {
        res.failures.push(`a signature in ${tag} has no certificate (key-based, not keyless)`);
        continue;
      }
      const payload = await readSmallBlob(asSource(src), layer, MAX_PAYLOAD);
      const bundle = bundleFromJSON(legacyToBundleJson(payload, annotations));
      const who = verifier.verifyBundle(bundle, payload);
      const claims = parsePayload(payload);
      if (claims.digest !== digest)
        throw new Error(`the signed payload names ${claims.digest}, not ${digest}`);
      res.verified.push({
        via: "legacy",
        identity: who.identity,
        issuer: who.issuer,
        ...(who.time ? { integratedTime: who.time } : {}),
      });
    } catch (e) {
      if (e instanceof BootforgeError && e.kind !== "dependency") throw e;
      res.failures.push(`${tag}: ${(e as Error).message}`);
    }
  }
  return res;
}

/** Whether a verified DSSE bundle's in-toto statement names `digest` as a subject. */
function statementNames(bundle: Bundle, digest: string): boolean {
  if (bundle.content.$case !== "dsseEnvelope") return false;
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== IN_TOTO_PAYLOAD_TYPE) return false;
  return statementNamesDigest(env.payload, digest);
}

/** Checks Sigstore bundles attached to `digest` as OCI referrers. */
export async function keylessBundleReferrers(
  src: SignatureSource,
  digest: string,
  verifier: KeylessVerifier,
): Promise<KeylessResult> {
  const res: KeylessResult = { verified: [], failures: [] };
  for (const d of (await src.bundleReferrers(digest)).slice(0, MAX_SIGNATURES)) {
    try {
      const m = parseManifest((await src.manifest(d)).bytes, d.mediaType);
      if (m.kind !== "manifest") continue;
      const layer = m.manifest.layers.find((l) => l.mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE);
      if (layer === undefined) continue;
      const bytes = await readSmallBlob(asSource(src), layer, MAX_BUNDLE);
      const bundle = bundleFromJSON(JSON.parse(bytes.toString("utf8")));
      if (bundle.content.$case !== "dsseEnvelope")
        throw new Error("the attached bundle holds no DSSE envelope");
      const who = verifier.verifyBundle(bundle);
      if (!statementNames(bundle, digest)) throw new Error(`the signed statement does not name ${digest}`);
      res.verified.push({
        via: "bundle",
        identity: who.identity,
        issuer: who.issuer,
        ...(who.time ? { integratedTime: who.time } : {}),
      });
    } catch (e) {
      if (e instanceof BootforgeError && e.kind !== "dependency") throw e;
      res.failures.push(`attached bundle ${d.digest}: ${(e as Error).message}`);
    }
  }
  return res;
}

/** Every keyless signature of `digest`, both forms (referrers first, as upstream). */
export async function keylessSignatures(
  src: SignatureSource,
  digest: string,
  verifier: KeylessVerifier,
): Promise<KeylessResult> {
  const a = await keylessBundleReferrers(src, digest, verifier);
  const b = await keylessLegacySignatures(src, digest, verifier);
  return { verified: [...a.verified, ...b.verified], failures: [...a.failures, ...b.failures] };
}

/** One line for a verified signature (the CLI prints these). */
export function describeVerified(v: VerifiedSignature): string {
  const when = v.integratedTime ? `, logged ${v.integratedTime.toISOString()}` : "";
  return `${v.via === "legacy" ? "cosign signature" : "Sigstore bundle"} by ${v.identity} (issuer ${v.issuer}${when})`;
}

/** Like {@link keylessSignatures}, but none verifying is an error naming the image. */
export async function verifyKeyless(
  src: SignatureSource,
  digest: string,
  verifier: KeylessVerifier,
  what: string,
): Promise<VerifiedSignature[]> {
  let res: KeylessResult;
  try {
    res = await keylessSignatures(src, digest, verifier);
  } catch (e) {
    throw verificationFailed(what, digest, (e as Error).message, e);
  }
  if (res.verified.length > 0) return res.verified;
  // The most telling reason: a signature that was there but failed beats "no bundle".
  const reasons = res.failures.length > 0 ? res.failures : ["no signature"];
  throw verificationFailed(what, digest, `${reasons.join("; ")} (trusted root: ${verifier.root.source})`);
}

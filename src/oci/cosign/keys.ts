/**
 * Keys for cosign-compatible signatures: a private signing key (ECDSA, e.g. cosign's P-256,
 * as PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY` PEM; Ed25519 and RSA also work) and public
 * verification keys (`PUBLIC KEY` PEM: ECDSA, RSA or Ed25519). Signatures are what sigstore's
 * verifiers expect: ECDSA as ASN.1 DER over the payload's hash, RSA PKCS#1 v1.5, Ed25519 over
 * the payload itself.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { BootforgeError } from "../../errors/index.js";

/** Hash used with ECDSA and RSA keys (upstream `containerSignature.publicKeyHashAlgo`). */
export type HashAlgorithm = "sha256" | "sha384" | "sha512";

/** A key that signs payloads. */
export interface SigningKey {
  /** The public half as `PUBLIC KEY` PEM (what `/oci/cosign/signing-key.pub` serves). */
  readonly publicKeyPem: string;
  readonly publicKey: VerificationKey;
  /** Signs `payload`; ECDSA signatures are randomized, Ed25519 ones deterministic. */
  sign(payload: Uint8Array): Buffer;
}

/** A key that verifies payload signatures. */
export interface VerificationKey {
  /** `ec`, `rsa` or `ed25519`. */
  readonly type: string;
  verify(payload: Uint8Array, signature: Uint8Array): boolean;
}

const SUPPORTED = new Set(["ec", "rsa", "ed25519"]);

function keyHash(key: KeyObject, hash: HashAlgorithm): string | null {
  // Ed25519 signs the message itself (pure EdDSA), as sigstore's ED25519Verifier expects.
  return key.asymmetricKeyType === "ed25519" ? null : hash;
}

function checkType(key: KeyObject, what: string): void {
  const t = key.asymmetricKeyType ?? "";
  if (!SUPPORTED.has(t))
    throw new BootforgeError("invalid-input", `${what}: unsupported key type ${t || "(unknown)"}`);
}

/** A verification key from a `PUBLIC KEY` PEM. */
export function publicKeyFromPem(
  pem: string,
  what = "public key",
  hash: HashAlgorithm = "sha256",
): VerificationKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new BootforgeError("invalid-input", `${what}: not a PEM public key (${(e as Error).message})`);
  }
  return verificationKey(key, what, hash);
}

function verificationKey(key: KeyObject, what: string, hash: HashAlgorithm): VerificationKey {
  checkType(key, what);
  const alg = keyHash(key, hash);
  return {
    type: key.asymmetricKeyType!,
    verify: (payload, signature) => {
      try {
        return verify(alg, payload, key, signature);
      } catch {
        // Malformed DER or a wrong-length signature is simply not a valid signature.
        return false;
      }
    },
  };
}

/** A signing key from PEM (unencrypted PKCS#8 or SEC1). */
export function signingKeyFromPem(
  pem: string,
  what = "signing key",
  hash: HashAlgorithm = "sha256",
): SigningKey {
  if (pem.includes("ENCRYPTED"))
    throw new BootforgeError(
      "invalid-input",
      `${what}: encrypted keys (cosign's "ENCRYPTED SIGSTORE PRIVATE KEY") are not supported; export an unencrypted PKCS#8 or EC PEM key`,
    );
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch (e) {
    throw new BootforgeError("invalid-input", `${what}: not a PEM private key (${(e as Error).message})`);
  }
  checkType(key, what);
  const pub = createPublicKey(key);
  const alg = keyHash(key, hash);
  return {
    publicKeyPem: pub.export({ type: "spki", format: "pem" }).toString(),
    publicKey: verificationKey(pub, what, hash),
    sign: (payload) => sign(alg, payload, key),
  };
}

async function readKeyFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new BootforgeError("invalid-input", `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

/** Loads a signing key file. */
export async function loadSigningKey(path: string, hash: HashAlgorithm = "sha256"): Promise<SigningKey> {
  return signingKeyFromPem(await readKeyFile(path, "signing key"), `signing key ${path}`, hash);
}

/** Loads a public key file. */
export async function loadPublicKey(path: string, hash: HashAlgorithm = "sha256"): Promise<VerificationKey> {
  return publicKeyFromPem(await readKeyFile(path, "public key"), `public key ${path}`, hash);
}

/**
 * RSA PKCS#1 v1.5 signers over precomputed digests: the shape upstream's external
 * signers (KMS, gRPC signer API) also have, so other backends can slot in later.
 */
import { createPublicKey, privateEncrypt, constants, type KeyObject } from "node:crypto";
import { invalidInput } from "../../errors/index.js";
import { nul, octets, oid, seq } from "./der.js";
import type { Certificate } from "./x509.js";

/** Hash algorithms used by Authenticode, CMS and the PCR banks. */
export type HashName = "sha256" | "sha384" | "sha512";

const HASH_OIDS: Record<HashName, string> = {
  sha256: "2.16.840.1.101.3.4.2.1",
  sha384: "2.16.840.1.101.3.4.2.2",
  sha512: "2.16.840.1.101.3.4.2.3",
};

/** AlgorithmIdentifier of a hash, with the NULL parameter as OpenSSL writes it. */
export const hashAlgorithm = (h: HashName) => seq(oid(HASH_OIDS[h]), nul());

/** Signs digests with RSA PKCS#1 v1.5. */
export interface DigestSigner {
  /** The RSA public key. */
  readonly publicKey: KeyObject;
  /** PKCS#1 v1.5 signature of an already computed `hash` digest. */
  signDigest(digest: Buffer, hash: HashName): Promise<Buffer>;
}

/** A digest signer holding a certificate (Authenticode, EFI variables). */
export interface CertificateSigner extends DigestSigner {
  readonly certificate: Certificate;
}

/** A signer backed by a local RSA private key. */
export function localSigner(privateKey: KeyObject): DigestSigner {
  if (privateKey.asymmetricKeyType !== "rsa") {
    throw invalidInput(`signing key must be RSA, got ${privateKey.asymmetricKeyType ?? "unknown"}`);
  }
  const publicKey = createPublicKey(privateKey);
  return {
    publicKey,
    signDigest(digest, hash) {
      // PKCS#1 v1.5 signing is the private-key operation over DigestInfo with type-1 padding.
      const digestInfo = seq(hashAlgorithm(hash), octets(digest));
      return Promise.resolve(
        privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, digestInfo),
      );
    },
  };
}

/** A local signer together with its certificate. */
export function localCertificateSigner(privateKey: KeyObject, certificate: Certificate): CertificateSigner {
  const signer = localSigner(privateKey);
  const certKey = certificate.x509.publicKey.export({ type: "spki", format: "der" });
  if (!certKey.equals(signer.publicKey.export({ type: "spki", format: "der" }))) {
    throw invalidInput("the signing key does not match the signing certificate");
  }
  return { ...signer, certificate };
}

/**
 * Verification of release images before use (upstream `containerSignature`): the manifest or
 * index a reference resolves to must carry a cosign-compatible signature by one of the
 * configured public keys. Verified (repository, digest) pairs are remembered for the process;
 * failures are not, so a signature fixed in the registry is picked up on the next request.
 */
import type { SignatureSource, VerificationKey } from "../oci/cosign/index.js";
import { verifySignature } from "../oci/cosign/index.js";

/** Checks release images; throws a `dependency` error naming the image when unsigned. */
export interface SourceVerifier {
  verify(src: SignatureSource, digest: string, what: string): Promise<void>;
}

/** Verifies against a fixed set of public keys. */
export class KeySourceVerifier implements SourceVerifier {
  readonly #keys: readonly VerificationKey[];
  readonly #verified = new Map<string, Promise<void>>();

  constructor(keys: readonly VerificationKey[]) {
    this.#keys = keys;
  }

  verify(src: SignatureSource, digest: string, what: string): Promise<void> {
    const key = `${src.description}@${digest}`;
    let p = this.#verified.get(key);
    if (p === undefined) {
      p = verifySignature(src, digest, this.#keys, what);
      this.#verified.set(key, p);
      p.catch(() => this.#verified.delete(key));
    }
    return p;
  }
}

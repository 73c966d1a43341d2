/**
 * Verification of release images before use (upstream `containerSignature`): the manifest or
 * index a reference resolves to must carry a cosign-compatible signature, keyless (a Fulcio
 * certificate for the configured identity and issuer, logged in Rekor; upstream's default) or by
 * one of the configured public keys. Verified (repository, digest) pairs are remembered for the
 * process; failures are not, so a signature fixed in the registry is picked up on the next request.
 */
import { BootforgeError } from "../errors/index.js";
import type { KeylessVerifier, SignatureSource, VerificationKey } from "../oci/cosign/index.js";
import { verifyKeyless, verifySignature } from "../oci/cosign/index.js";

/** Checks release images; throws a `dependency` error naming the image when unsigned. */
export interface SourceVerifier {
  verify(src: SignatureSource, digest: string, what: string): Promise<void>;
}

/** Remembers successes per (source, digest); a failure is retried next time. */
abstract class CachingVerifier implements SourceVerifier {
  readonly #verified = new Map<string, Promise<void>>();

  protected abstract check(src: SignatureSource, digest: string, what: string): Promise<void>;

  verify(src: SignatureSource, digest: string, what: string): Promise<void> {
    const key = `${src.description}@${digest}`;
    let p = this.#verified.get(key);
    if (p === undefined) {
      p = this.check(src, digest, what);
      this.#verified.set(key, p);
      p.catch(() => this.#verified.delete(key));
    }
    return p;
  }
}

/** Verifies against a fixed set of public keys. */
export class KeySourceVerifier extends CachingVerifier {
  readonly #keys: readonly VerificationKey[];

  constructor(keys: readonly VerificationKey[]) {
    super();
    this.#keys = keys;
  }

  protected check(src: SignatureSource, digest: string, what: string): Promise<void> {
    return verifySignature(src, digest, this.#keys, what);
  }
}

/** Verifies keylessly: identity policy and trust root in a {@link KeylessVerifier}. */
export class KeylessSourceVerifier extends CachingVerifier {
  readonly #verifier: KeylessVerifier;

  constructor(verifier: KeylessVerifier) {
    super();
    this.#verifier = verifier;
  }

  protected async check(src: SignatureSource, digest: string, what: string): Promise<void> {
    await verifyKeyless(src, digest, this.#verifier, what);
  }
}

/** Tries verifiers in order (upstream tries keyless, then the public key); one success is enough. */
export class AnySourceVerifier implements SourceVerifier {
  readonly #verifiers: readonly SourceVerifier[];

  constructor(verifiers: readonly SourceVerifier[]) {
    this.#verifiers = verifiers;
  }

  async verify(src: SignatureSource, digest: string, what: string): Promise<void> {
    const reasons: string[] = [];
    for (const v of this.#verifiers) {
      try {
        return await v.verify(src, digest, what);
      } catch (e) {
        if (!(e instanceof BootforgeError) || e.kind !== "dependency") throw e;
        reasons.push(e.message);
      }
    }
    const prefix = `signature verification of ${what}@${digest} failed: `;
    throw new BootforgeError(
      "dependency",
      prefix + reasons.map((r) => (r.startsWith(prefix) ? r.slice(prefix.length) : r)).join("; or: "),
    );
  }
}

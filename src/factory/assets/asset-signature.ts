/**
 * Sigstore bundles for assets (`<asset>.sigstore.json`): a v0.3 bundle whose message signature
 * is the factory's cache signing key over the asset, made from the SHA-256 recorded when the
 * asset was stored, so the asset is never read again. `cosign verify-blob --bundle … --key …`
 * and `@sigstore/verify` with that public key check it offline: no certificate, no transparency
 * log entry, the key named by its hint.
 *
 * The signature is made by `openssl pkeyutl` because Node's crypto only signs whole messages:
 * ECDSA and RSA (PKCS#1 v1.5) sign a digest, so the recorded one is enough. Ed25519 signs the
 * message itself and cannot sign from a digest; such a key is refused with 501.
 */
import { spawn } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { BootforgeError } from "../../errors/index.js";
import { limiter } from "../../imager/tools/limiter.js";
import { requireTool } from "../../imager/tools/registry.js";
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from "../../oci/cosign/index.js";
import { NotImplementedError } from "./asset-builder.js";

const SIGN_TIMEOUT_MS = 30_000;
// A burst of bundle requests must not start a process each at once; signing takes milliseconds.
const signing = limiter(4);
const SHA256 = /^[0-9a-f]{64}$/;

/** Signs asset digests with the cache signing key. */
export class AssetSigner {
  /** Key hint in bundles: hex SHA-256 of the public key's DER SubjectPublicKeyInfo. */
  readonly keyHint: string;
  readonly #keyPath: string;
  readonly #keyType: string;

  /** `keyPath` is `cache.signingKeyPath`; `publicKeyPem` its public half. */
  constructor(keyPath: string, publicKeyPem: string) {
    const pub = createPublicKey(publicKeyPem);
    this.#keyPath = keyPath;
    this.#keyType = pub.asymmetricKeyType ?? "";
    this.keyHint = createHash("sha256")
      .update(pub.export({ type: "spki", format: "der" }))
      .digest("hex");
  }

  /** Throws (501) when the key cannot sign digests; routes call it before building an asset. */
  checkKey(): void {
    if (this.#keyType !== "ec" && this.#keyType !== "rsa") {
      throw new NotImplementedError(
        `asset signatures need an ECDSA or RSA cache signing key (cache.signingKeyPath is ${this.#keyType}, which signs whole messages, not digests)`,
      );
    }
  }

  /** The bundle (JSON text) for an asset with this SHA-256 (hex). */
  async bundle(sha256Hex: string): Promise<string> {
    if (!SHA256.test(sha256Hex)) throw new BootforgeError("internal", `not a SHA-256: ${sha256Hex}`);
    this.checkKey();
    const digest = Buffer.from(sha256Hex, "hex");
    const signature = await signing(() => signDigest(this.#keyPath, digest));
    const bundle = {
      mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
      verificationMaterial: {
        publicKey: { hint: this.keyHint },
        tlogEntries: [],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      messageSignature: {
        messageDigest: { algorithm: "SHA2_256", digest: digest.toString("base64") },
        signature: signature.toString("base64"),
      },
    };
    return `${JSON.stringify(bundle)}\n`;
  }
}

/** `openssl pkeyutl -sign` over a SHA-256 digest: DER ECDSA, or PKCS#1 v1.5 with DigestInfo for RSA. */
function signDigest(keyPath: string, digest: Buffer): Promise<Buffer> {
  const openssl = requireTool("openssl");
  return new Promise((resolve, reject) => {
    const child = spawn(openssl, ["pkeyutl", "-sign", "-inkey", keyPath, "-pkeyopt", "digest:sha256"], {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: SIGN_TIMEOUT_MS,
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      if (err.length < 4096) err += c.toString();
    });
    child.on("error", (e) => reject(new BootforgeError("io", `openssl pkeyutl: ${e.message}`, { cause: e })));
    child.on("close", (code, signal) => {
      const sig = Buffer.concat(out);
      if (code === 0 && sig.length > 0) resolve(sig);
      else
        reject(
          new BootforgeError(
            "io",
            `signing the asset digest with cache.signingKeyPath failed (openssl pkeyutl ${signal ?? `exit ${code}`}): ${err.trim()}`,
          ),
        );
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(digest);
  });
}

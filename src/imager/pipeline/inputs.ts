/**
 * Turns the paths a resolved profile names into files on this machine: `/usr/install/…` and
 * `/usr/lib/grub/…` are read from the release's imager image (upstream runs inside that image),
 * `/secureboot/…` from the keys directory, anything else from the host as written.
 */
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { environmentError, invalidInput, unsupported } from "../../errors/index.js";
import type { Profile, SecureBootAssets } from "../../profile/model.js";
import type { ReleaseSource } from "../../release/release-source.js";
import { DEFAULT_KEYS_DIR, loadCertificate, loadPrivateKey } from "../secureboot/keys.js";
import { grpcCertificateSigner, grpcDigestSigner } from "../secureboot/grpc-signer.js";
import {
  localCertificateSigner,
  localSigner,
  type CertificateSigner,
  type DigestSigner,
} from "../secureboot/signer.js";
import type { UkiSigners } from "../secureboot/signed-uki.js";

const IMAGER_PREFIXES = ["/usr/install/", "/usr/lib/grub/", "/etc/modules.d/"];

/** The host path of a profile file path. */
export async function resolveFilePath(
  release: ReleaseSource,
  path: string | undefined,
  what: string,
): Promise<string> {
  if (!path) throw invalidInput(`profile names no ${what} path`);
  if (IMAGER_PREFIXES.some((p) => path.startsWith(p))) return release.imagerPath(path);
  if (!existsSync(path)) throw invalidInput(`${what} ${path} not found`);
  return path;
}

/** A `/secureboot/…` path mapped into the keys directory. */
export function keyPath(path: string, keysDir: string | undefined): string {
  const dir = keysDir ?? DEFAULT_KEYS_DIR;
  const prefix = `${DEFAULT_KEYS_DIR}/`;
  if (!path.startsWith(prefix)) return path;
  if (!isDirectory(dir)) {
    throw environmentError(
      `SecureBoot keys directory ${dir} does not exist: mount the keys there or pass --secureboot-keys-dir`,
    );
  }
  return join(dir, path.slice(prefix.length));
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The UKI and PCR signers a SecureBoot profile names, in upstream's priority order: a gRPC signer
 * service (`signerAddress`), else key files. Azure Key Vault and AWS KMS are refused: they need
 * the cloud services' APIs and credentials, which cannot be exercised here.
 */
export async function loadSigners(profile: Profile, keysDir: string | undefined): Promise<UkiSigners> {
  const sb: SecureBootAssets = profile.input?.secureboot ?? {};
  const s = sb.secureBootSigner ?? {};
  const p = sb.pcrSigner ?? {};
  const cloud = [
    ...(!s.signerAddress && !s.keyPath && (s.azureVaultURL || s.azureCertificateID)
      ? ["secureBootSigner.azureVaultURL"]
      : []),
    ...(!s.signerAddress && !s.keyPath && (s.awsKMSKeyID || s.awsCertARN)
      ? ["secureBootSigner.awsKMSKeyID"]
      : []),
    ...(!p.signerAddress && !p.keyPath && (p.azureVaultURL || p.azureKeyID)
      ? ["pcrSigner.azureVaultURL"]
      : []),
    ...(!p.signerAddress && !p.keyPath && p.awsKMSKeyID ? ["pcrSigner.awsKMSKeyID"] : []),
  ];
  if (cloud.length > 0)
    throw unsupported(
      `Azure Key Vault and AWS KMS signers are not supported (${cloud.join(", ")}); use key files or a gRPC signer (--secureboot-signer-address, --pcr-signer-address)`,
    );
  const opened: { close(): void }[] = [];
  try {
    let uki: CertificateSigner;
    if (s.signerAddress) {
      const r = await grpcCertificateSigner(s.signerAddress);
      opened.push(r);
      uki = r;
    } else {
      if (!s.keyPath || !s.certPath)
        throw invalidInput("SecureBoot signer: keyPath and certPath are required");
      const ukiKey = await loadPrivateKey(keyPath(s.keyPath, keysDir), "UKI signing key");
      const ukiCert = await loadCertificate(keyPath(s.certPath, keysDir), "UKI signing certificate");
      uki = localCertificateSigner(ukiKey, ukiCert);
    }
    let pcr: DigestSigner;
    if (p.signerAddress) {
      const r = await grpcDigestSigner(p.signerAddress);
      opened.push(r);
      pcr = r;
    } else {
      if (!p.keyPath) throw invalidInput("PCR signer: keyPath is required");
      pcr = localSigner(await loadPrivateKey(keyPath(p.keyPath, keysDir), "PCR signing key"));
    }
    return { uki, pcr, ...(opened.length > 0 ? { close: () => opened.forEach((o) => o.close()) } : {}) };
  } catch (e) {
    for (const o of opened) o.close();
    throw e;
  }
}

/** The pre-built enrollment files the profile names, if all three are set. */
export function enrollmentFiles(
  profile: Profile,
  keysDir: string | undefined,
): { pk: string; kek: string; db: string } | undefined {
  const sb = profile.input?.secureboot;
  if (!sb?.platformKeyPath || !sb.keyExchangeKeyPath || !sb.signatureKeyPath) return undefined;
  return {
    pk: keyPath(sb.platformKeyPath, keysDir),
    kek: keyPath(sb.keyExchangeKeyPath, keysDir),
    db: keyPath(sb.signatureKeyPath, keysDir),
  };
}

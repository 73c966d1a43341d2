/**
 * SecureBoot key material in a keys directory with upstream's file names
 * (`uki-signing-key.pem`, `uki-signing-cert.pem`, `pcr-signing-key.pem`, optional
 * `PK.auth`/`KEK.auth`/`db.auth`), and a generator like `talosctl gen secureboot`.
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import { localCertificateSigner, localSigner, type CertificateSigner, type DigestSigner } from "./signer.js";
import { createSelfSignedCertificate, parseCertificate, toPem, type Certificate } from "./x509.js";

/** Upstream file names in a SecureBoot keys directory. */
export const KEY_FILES = {
  ukiSigningKey: "uki-signing-key.pem",
  ukiSigningCert: "uki-signing-cert.pem",
  ukiSigningCertDer: "uki-signing-cert.der",
  pcrSigningKey: "pcr-signing-key.pem",
  platformKey: "PK.auth",
  keyExchangeKey: "KEK.auth",
  signatureDb: "db.auth",
} as const;

/** Default keys directory of the imager. */
export const DEFAULT_KEYS_DIR = "/secureboot";

/** Reads a PEM private key (PKCS#1 or PKCS#8). */
export async function loadPrivateKey(path: string, what = "private key"): Promise<KeyObject> {
  const pem = await readKeyFile(path, what);
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw invalidInput(`${what} ${path}: cannot parse: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a PEM or DER certificate. */
export async function loadCertificate(path: string, what = "certificate"): Promise<Certificate> {
  return parseCertificate(await readKeyFile(path, what), `${what} ${path}`);
}

async function readKeyFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw invalidInput(
      code === "ENOENT"
        ? `${what} not found: ${path}`
        : `cannot read ${what} ${path}: ${(e as Error).message}`,
      { cause: e },
    );
  }
}

/** What the imager signs with. */
export interface SecureBootKeys {
  /** Signs sd-boot and the UKI (Authenticode) and the enrollment database. */
  uki: CertificateSigner;
  /** Signs the PCR 11 policy (`.pcrsig`); its public key becomes `.pcrpkey`. */
  pcr: DigestSigner;
  /** Pre-built enrollment files when all three are in the directory. */
  enrollment?: { pk: string; kek: string; db: string };
}

/** Loads the SecureBoot keys from a directory with upstream's file names. */
export async function loadSecureBootKeys(dir: string = DEFAULT_KEYS_DIR): Promise<SecureBootKeys> {
  const ukiKey = await loadPrivateKey(join(dir, KEY_FILES.ukiSigningKey), "UKI signing key");
  const ukiCert = await loadCertificate(join(dir, KEY_FILES.ukiSigningCert), "UKI signing certificate");
  const pcrKey = await loadPrivateKey(join(dir, KEY_FILES.pcrSigningKey), "PCR signing key");
  const keys: SecureBootKeys = { uki: localCertificateSigner(ukiKey, ukiCert), pcr: localSigner(pcrKey) };
  const pk = join(dir, KEY_FILES.platformKey);
  const kek = join(dir, KEY_FILES.keyExchangeKey);
  const db = join(dir, KEY_FILES.signatureDb);
  const present = [pk, kek, db].filter((p) => existsSync(p));
  if (present.length === 3) keys.enrollment = { pk, kek, db };
  else if (present.length > 0)
    throw invalidInput(
      `partial SecureBoot enrollment database in ${dir}: need PK.auth, KEK.auth and db.auth together`,
    );
  return keys;
}

/** Options of `generateSecureBootKeys`. */
export interface GenerateKeysOptions {
  /** Certificate common name (upstream default "Test UKI Signing Key"). */
  commonName?: string;
  /** RSA size of the UKI signing key (upstream 4096; tests use 2048 for speed). */
  ukiBits?: number;
  /** RSA size of the PCR signing key (upstream 2048). */
  pcrBits?: number;
  /** Certificate notBefore (default now); valid for 10 years like upstream's CA. */
  notBefore?: Date;
}

/** Generated key material (also written to the directory). */
export interface GeneratedKeys {
  ukiKey: KeyObject;
  ukiCert: Certificate;
  pcrKey: KeyObject;
}

/** Writes a fresh key set like `talosctl gen secureboot uki` + `pcr` into `dir`. */
export async function generateSecureBootKeys(
  dir: string,
  opts: GenerateKeysOptions = {},
): Promise<GeneratedKeys> {
  const commonName = opts.commonName ?? "Test UKI Signing Key";
  const notBefore = opts.notBefore ?? new Date();
  const notAfter = new Date(notBefore.getTime() + 87600 * 3600 * 1000);
  const ukiKey = generateKeyPairSync("rsa", { modulusLength: opts.ukiBits ?? 4096 }).privateKey;
  const pcrKey = generateKeyPairSync("rsa", { modulusLength: opts.pcrBits ?? 2048 }).privateKey;
  const serial = BigInt(`0x${randomBytes(16).toString("hex")}`) >> 1n;
  const ukiCert = createSelfSignedCertificate({ key: ukiKey, commonName, serial, notBefore, notAfter });
  await mkdir(dir, { recursive: true });
  const write = (name: string, data: string | Buffer) => writeFile(join(dir, name), data, { mode: 0o600 });
  await write(KEY_FILES.ukiSigningKey, ukiKey.export({ type: "pkcs1", format: "pem" }));
  await write(KEY_FILES.ukiSigningCert, toPem("CERTIFICATE", ukiCert.der));
  await write(KEY_FILES.ukiSigningCertDer, ukiCert.der);
  await write(KEY_FILES.pcrSigningKey, pcrKey.export({ type: "pkcs1", format: "pem" }));
  return { ukiKey, ukiCert, pcrKey };
}

/**
 * A keys directory made once and kept: if `dir` holds the signing key, certificate and PCR key,
 * they are used as they are; otherwise a fresh set is generated beside it and renamed into
 * place, so an interrupted first run leaves no partial directory. True when generated now.
 */
export async function ensureSecureBootKeys(dir: string, opts: GenerateKeysOptions = {}): Promise<boolean> {
  const needed = [KEY_FILES.ukiSigningKey, KEY_FILES.ukiSigningCert, KEY_FILES.pcrSigningKey];
  if (needed.every((f) => existsSync(join(dir, f)))) return false;
  if (existsSync(dir))
    throw invalidInput(
      `SecureBoot keys directory ${dir} exists but lacks ${needed.filter((f) => !existsSync(join(dir, f))).join(", ")}`,
    );
  const staging = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    await generateSecureBootKeys(staging, opts);
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return true;
}

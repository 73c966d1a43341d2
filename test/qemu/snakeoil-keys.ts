/**
 * Imager key directories for Secure Boot boots: one whose UKI signing key and certificate are
 * Debian's snakeoil pair (what the snakeoil OVMF variables trust), and ordinary generated ones
 * that the firmware does not trust.
 */
import { execFileSync } from "node:child_process";
import { copyFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { generateSecureBootKeys, KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { SNAKEOIL } from "./firmware.js";

/** Writes a keys directory signing with Debian's snakeoil key (its PCR key is a generated one). */
export async function writeSnakeoilKeysDir(dir: string, notBefore: Date): Promise<void> {
  await generateSecureBootKeys(dir, { ukiBits: 2048, notBefore });
  // Upstream reads PKCS#1 keys: decrypt Debian's key (passphrase "snakeoil") into that form.
  execFileSync("openssl", [
    "rsa", "-in", SNAKEOIL.key, "-passin", "pass:snakeoil", "-traditional",
    "-out", join(dir, KEY_FILES.ukiSigningKey),
  ], { stdio: "ignore" }); // prettier-ignore
  await copyFile(SNAKEOIL.cert, join(dir, KEY_FILES.ukiSigningCert));
  await rm(join(dir, KEY_FILES.ukiSigningCertDer));
}

/** Writes a generated keys directory that no test firmware trusts. */
export async function writeUntrustedKeysDir(dir: string, notBefore: Date): Promise<void> {
  await generateSecureBootKeys(dir, { ukiBits: 2048, notBefore });
}

/**
 * `image-factory verify <image>`, like `cosign verify`: keyless by certificate identity and OIDC
 * issuer (default: Sidero's release identity, as the factory), against the public-good Sigstore
 * root shipped with sigstore-js or `--trusted-root`, all offline; or by `--key`. Prints one line
 * per verified signature; none verifying is an error with the reasons (exit 5).
 */
import { Command } from "commander";
import { invalidInput } from "../errors/index.js";
import type { VerifyMode } from "../oci/cosign/index.js";
import { SIDERO_ISSUER, SIDERO_SUBJECT_REGEXP } from "../oci/cosign/sidero-identity.js";

interface Flags {
  certificateIdentityRegexp?: string;
  certificateOidcIssuer?: string;
  certificateOidcIssuerRegexp?: string;
  trustedRoot?: string;
  key?: string;
  insecure?: boolean;
}

async function modeOf(flags: Flags): Promise<VerifyMode> {
  if (flags.certificateOidcIssuer !== undefined && flags.certificateOidcIssuerRegexp !== undefined)
    throw invalidInput("--certificate-oidc-issuer and --certificate-oidc-issuer-regexp exclude each other");
  if (flags.key !== undefined) {
    const keyless = [
      flags.certificateIdentityRegexp,
      flags.certificateOidcIssuer,
      flags.certificateOidcIssuerRegexp,
      flags.trustedRoot,
    ];
    if (keyless.some((f) => f !== undefined))
      throw invalidInput("--key excludes the keyless options (--certificate-*, --trusted-root)");
    const { loadPublicKey } = await import("../oci/cosign/index.js");
    return { keys: [await loadPublicKey(flags.key)] };
  }
  const policy = {
    subjectRegExp: flags.certificateIdentityRegexp ?? SIDERO_SUBJECT_REGEXP,
    ...(flags.certificateOidcIssuerRegexp !== undefined
      ? { issuerRegExp: flags.certificateOidcIssuerRegexp }
      : { issuer: flags.certificateOidcIssuer ?? SIDERO_ISSUER }),
  };
  // The Sigstore libraries load only when a verification runs (not for --help).
  const { KeylessVerifier, loadTrustedRoot } = await import("../oci/cosign/index.js");
  return { keyless: new KeylessVerifier(await loadTrustedRoot(flags.trustedRoot), policy) };
}

/** The `verify` command; `out` receives the verified lines. */
export function verifyCommand(out: { write(s: string): unknown }): Command {
  return new Command("verify")
    .description(
      "verify an image's cosign signatures offline (keyless by identity, or by key), like cosign verify",
    )
    .argument("<image>", "registry reference, or oci:<dir>:<name> for an OCI layout")
    .option(
      "--certificate-identity-regexp <re>",
      "certificate identity (SAN) regexp (default: Sidero's release identity)",
    )
    .option("--certificate-oidc-issuer <url>", `exact OIDC issuer (default ${SIDERO_ISSUER})`)
    .option("--certificate-oidc-issuer-regexp <re>", "OIDC issuer regexp")
    .option(
      "--trusted-root <file>",
      "Sigstore trusted_root.json (default: the public-good root shipped with sigstore-js)",
    )
    .option("--key <file>", "verify with this PEM public key instead (key-based)")
    .option("--insecure", "use plain HTTP for the registry")
    .action(async (image: string, flags: Flags) => {
      const mode = await modeOf(flags);
      const { verifyImage } = await import("../oci/cosign/index.js");
      const res = await verifyImage(image, mode, flags.insecure ? { insecure: true } : {});
      for (const line of res.verified) out.write(`${image}@${res.digest}: verified ${line}\n`);
    });
}

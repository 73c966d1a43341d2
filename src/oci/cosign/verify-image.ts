/**
 * `cosign verify` for one image location (a registry reference or `oci:<dir>:<name>`): resolves
 * it to a digest and returns every signature of that digest that verifies, keylessly or by key.
 */
import { BootforgeError } from "../../errors/index.js";
import { RegistryClient, type ClientOptions } from "../client.js";
import { OciLayout } from "../layout.js";
import { parseReference } from "../reference.js";
import { openSource } from "../tools.js";
import { keylessSignatures, describeVerified, type KeylessVerifier } from "./keyless.js";
import type { VerificationKey } from "./keys.js";
import { layoutSignatures, registrySignatures, type SignatureSource } from "./signature-source.js";
import { checkBundleReferrers, checkLegacySignature } from "./verify.js";

/** How to verify: keylessly by policy, or by public keys. */
export type VerifyMode = { keyless: KeylessVerifier } | { keys: readonly VerificationKey[] };

/** The digest checked and one line per verified signature. */
export interface VerifyImageResult {
  digest: string;
  verified: string[];
}

/** The repository part of a name inside a layout (`siderolabs/imager:v1` → `siderolabs/imager`). */
function layoutRepo(name: string): string {
  const at = name.indexOf("@");
  const base = at >= 0 ? name.slice(0, at) : name;
  const colon = base.lastIndexOf(":");
  return colon > base.lastIndexOf("/") ? base.slice(0, colon) : base;
}

/** Verifies the image at `location`; none verifying is a `dependency` error with the reasons. */
export async function verifyImage(
  location: string,
  mode: VerifyMode,
  opts: ClientOptions = {},
): Promise<VerifyImageResult> {
  const client = new RegistryClient(opts);
  const { source, ref } = await openSource(location, client);
  const { digest } = await source.resolve(ref);
  let sigs: SignatureSource;
  if (source instanceof OciLayout) sigs = layoutSignatures(source, layoutRepo(ref));
  else if (/^(oci-archive|docker-archive):/.test(location))
    throw new BootforgeError(
      "unsupported",
      `${location}: archives carry no signatures; verify a registry image or an oci: layout`,
    );
  else sigs = registrySignatures(client, parseReference(location));
  let verified: string[];
  let failures: string[];
  if ("keyless" in mode) {
    const res = await keylessSignatures(sigs, digest, mode.keyless);
    verified = res.verified.map(describeVerified);
    failures = res.failures;
  } else {
    verified = [];
    failures = [];
    for (const check of [checkBundleReferrers, checkLegacySignature]) {
      const res = await check(sigs, digest, mode.keys);
      if (res.ok)
        verified.push(`${res.via === "legacy" ? "cosign signature" : "Sigstore bundle"} by the given key`);
      else failures.push(res.reason);
    }
  }
  if (verified.length === 0)
    throw new BootforgeError(
      "dependency",
      `no signature of ${location}@${digest} verifies: ${failures.join("; ") || "no signature"}${
        "keyless" in mode ? ` (trusted root: ${mode.keyless.root.source})` : ""
      }`,
    );
  return { digest, verified };
}

/**
 * Upstream Image Factory's default signer identity for Sidero's release images, in a module of its
 * own so the CLIs can show it as a default without loading the Sigstore libraries.
 */

/** The certificate identity (subject) regexp. */
export const SIDERO_SUBJECT_REGEXP =
  "(@siderolabs\\.com$|^releasemgr-svc@talos-production\\.iam\\.gserviceaccount\\.com$)";
/** The OIDC issuer. */
export const SIDERO_ISSUER = "https://accounts.google.com";

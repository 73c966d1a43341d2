/**
 * Upstream image-factory's configuration keys (its `Options` struct, koanf names) and what each
 * means in Bootforge: the Bootforge key it sets, or why Bootforge does not implement it. An
 * upstream configuration file or `IF_*` environment loads through this table unchanged; a key
 * missing from it is unknown (an error), as any other unknown key.
 *
 * A new upstream key Bootforge learns to honour moves from `unsupported` to `to`; a Bootforge
 * key spelled exactly as upstream's needs an entry too (environment names are matched
 * case-insensitively, as koanf does, and give the value's type).
 */

/** How a string from the environment (or a quoted YAML scalar) becomes the setting's value. */
export type ValueType = "string" | "bool" | "int" | "strings";

/** An upstream key Bootforge honours. */
export interface MappedKey {
  /** The Bootforge key (`section.key`) it sets. */
  to: string;
  type: ValueType;
  /** A Bootforge setting it implies unless given explicitly (e.g. a registry store). */
  implies?: { key: string; value: unknown };
}

/** An upstream key Bootforge does not implement: one warning naming it and `reason`. */
export interface UnsupportedKey {
  unsupported: string;
  /** A value that means what Bootforge does anyway: accepted without a warning. */
  accepts?: string | boolean;
}

export type UpstreamKey = MappedKey | UnsupportedKey;

const same = (to: string, type: ValueType = "string"): MappedKey => ({ to, type });
const no = (unsupported: string, accepts?: string | boolean): UnsupportedKey =>
  accepts === undefined ? { unsupported } : { unsupported, accepts };

const ENTERPRISE = "an Enterprise edition feature upstream; Bootforge has no Enterprise features";
const GSA =
  "keyless cache signing (Google service account through Sigstore) is not available; use cache.signingKeyPath";
const CDN = "Bootforge serves cached assets itself (no CDN redirects)";
const S3 = "Bootforge keeps cached assets in storage.dir or the cache OCI registry (no S3)";
const SCHEMATIC_CACHE = "the in-memory schematic cache is not tunable";
const KMS = "SecureBoot keys in a cloud KMS are not available; use secureBoot.file.* or secureBoot.keysDir";
const INSTALLER =
  "Bootforge serves installer images from its own registry front end (/v2) and does not push them to another registry";
const COMPONENT =
  "Bootforge reads the release's images under artifacts.core.namespace with upstream's names (siderolabs/<name>)";
const REFRESH = "Bootforge rereads versions and registries on demand (not tunable)";
const REGISTRY_CLIENT =
  "tuning of upstream's registry client (go-containerregistry); Bootforge's client has no such limiter";
const SCHEMATIC_REPO =
  "Bootforge keeps schematics beside the cache, in <cache.oci.registry>/<cache.oci.namespace>/schematics";

/** Every upstream leaf key (as upstream spells it) and its meaning here. */
export const UPSTREAM_KEYS: ReadonlyMap<string, UpstreamKey> = new Map<string, UpstreamKey>([
  ["http.httpListenAddr", same("http.listen")],
  ["http.certFile", same("http.certFile")],
  ["http.keyFile", same("http.keyFile")],
  ["http.externalURL", same("http.externalURL")],
  ["http.externalPXEURL", same("http.externalPXEURL")],
  ["http.allowedOrigins", same("http.allowedOrigins", "strings")],

  ["build.minTalosVersion", same("build.minTalosVersion")],
  ["build.brokenTalosVersions", same("build.brokenTalosVersions", "strings")],
  ["build.maxConcurrency", same("build.maxConcurrency", "int")],

  ["containerSignature.subjectRegExp", same("containerSignature.subjectRegExp")],
  ["containerSignature.issuerRegExp", same("containerSignature.issuerRegExp")],
  ["containerSignature.issuer", same("containerSignature.issuer")],
  ["containerSignature.publicKeyFile", same("containerSignature.publicKeyFile")],
  ["containerSignature.publicKeyHashAlgo", same("containerSignature.publicKeyHashAlgo")],
  ["containerSignature.disabled", same("containerSignature.disabled", "bool")],

  // Upstream always caches in an OCI registry; naming one selects Bootforge's registry store.
  [
    "cache.oci.registry",
    { to: "storage.registry", type: "string", implies: { key: "storage.kind", value: "registry" } },
  ],
  ["cache.oci.namespace", same("storage.namespace")],
  ["cache.oci.repository", no("Bootforge names the cache repository <cache.oci.namespace>/cache", "cache")],
  ["cache.oci.insecure", same("storage.insecure", "bool")],
  ["cache.signingKeyPath", same("cache.signingKeyPath")],
  ["cache.gsa.serviceAccountEmail", no(GSA)],
  ["cache.gsa.keyFile", no(GSA)],
  ["cache.gsa.fulcioURL", no(GSA)],
  ["cache.gsa.rekorURL", no(GSA)],
  ["cache.gsa.tsaURL", no(GSA)],
  ["cache.cdn.host", no(CDN)],
  ["cache.cdn.trimPrefix", no(CDN)],
  ["cache.cdn.enabled", no(CDN, false)],
  ["cache.s3.bucket", no(S3)],
  ["cache.s3.endpoint", no(S3)],
  ["cache.s3.region", no(S3)],
  ["cache.s3.insecure", no(S3)],
  ["cache.s3.enabled", no(S3, false)],
  ["cache.s3.presignedURLTTL", no(S3)],
  ["cache.schematic.capacity", no(SCHEMATIC_CACHE)],
  ["cache.schematic.negativeTTL", no(SCHEMATIC_CACHE)],

  ["metrics.addr", same("metrics.addr")],

  ["secureBoot.enabled", same("secureBoot.enabled", "bool")],
  ["secureBoot.file.signingKeyPath", same("secureBoot.signingKeyPath")],
  ["secureBoot.file.signingCertPath", same("secureBoot.signingCertPath")],
  ["secureBoot.file.pcrKeyPath", same("secureBoot.pcrKeyPath")],
  ["secureBoot.azureKeyVault.url", no(KMS)],
  ["secureBoot.azureKeyVault.certificateName", no(KMS)],
  ["secureBoot.azureKeyVault.keyName", no(KMS)],
  ["secureBoot.awsKMS.keyID", no(KMS)],
  ["secureBoot.awsKMS.pcrKeyID", no(KMS)],
  ["secureBoot.awsKMS.certPath", no(KMS)],
  ["secureBoot.awsKMS.certARN", no(KMS)],
  ["secureBoot.awsKMS.region", no(KMS)],

  // Upstream pulls release images from <registry>/<namespace>/siderolabs/<name>: so does Bootforge.
  [
    "artifacts.core.registry",
    { to: "release.registry", type: "string", implies: { key: "release.source", value: "registry" } },
  ],
  ["artifacts.core.namespace", same("release.namespace")],
  ["artifacts.core.insecure", same("release.insecure", "bool")],
  ["artifacts.core.components.installerBase", no(COMPONENT, "siderolabs/installer-base")],
  ["artifacts.core.components.installer", no(COMPONENT, "siderolabs/installer")],
  ["artifacts.core.components.imager", no(COMPONENT, "siderolabs/imager")],
  ["artifacts.core.components.extensionManifest", no(COMPONENT, "siderolabs/extensions")],
  ["artifacts.core.components.overlayManifest", no(COMPONENT, "siderolabs/overlays")],
  ["artifacts.core.components.talosctl", no(COMPONENT, "siderolabs/talosctl-all")],
  ["artifacts.schematic.registry", no(SCHEMATIC_REPO)],
  ["artifacts.schematic.namespace", no(SCHEMATIC_REPO)],
  ["artifacts.schematic.repository", no(SCHEMATIC_REPO, "schematics")],
  ["artifacts.schematic.insecure", no(SCHEMATIC_REPO)],
  ...["internal", "external"].flatMap((side) =>
    ["registry", "namespace", "repository", "insecure"].map((k): [string, UpstreamKey] => [
      `artifacts.installer.${side}.${k}`,
      no(INSTALLER),
    ]),
  ),
  ["artifacts.talosVersionRecheckInterval", no(REFRESH)],
  ["artifacts.refreshInterval", no(REFRESH)],

  ["registry.jobs", no(REGISTRY_CLIENT)],
  ["registry.debug", no(REGISTRY_CLIENT, false)],

  ...[
    "authentication.enabled",
    "authentication.provider",
    "authentication.htpasswdPath",
    "authentication.auth0.domain",
    "authentication.auth0.audience",
    "authentication.auth0.machineScope",
    "authentication.auth0.clientID",
    "authentication.auth0.clientSecret",
    "authentication.auth0.sessionKey",
    "authentication.auth0.maxNodeAppsPerOrg",
    "authentication.downloadTokenKeyPath",
    "authentication.downloadTokenTTL.max",
    "authentication.downloadTokenTTL.min",
    "authentication.downloadTokenTTL.default",
    "audit.mode",
    "audit.file.path",
    "audit.file.maxAge",
    "audit.file.maxSizeMB",
    "audit.file.maxBackups",
    ...["registry", "namespace", "repository", "insecure"].map(
      (k) => `enterprise.extraExtensions.manifest.${k}`,
    ),
    "enterprise.scanner.databaseURL",
    "enterprise.scanner.databaseUpdateAt",
    "enterprise.scanner.databaseRootDir",
    "enterprise.scanner.cache.ttl",
    "enterprise.scanner.cache.capacity",
    ...["registry", "namespace", "repository", "insecure"].map((k) => `enterprise.spdx.cache.${k}`),
    ...["registry", "namespace", "repository", "insecure"].map((k) => `enterprise.vex.data.${k}`),
    "enterprise.vex.cache.ttl",
    "enterprise.vex.cache.capacity",
  ].map((k): [string, UpstreamKey] => [
    k,
    no(ENTERPRISE, k === "authentication.enabled" ? false : undefined),
  ]),
]);

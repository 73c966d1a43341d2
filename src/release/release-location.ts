/**
 * Where a Talos release's images live: a registry namespace (default `ghcr.io/siderolabs`, or a
 * mirror) or an OCI layout directory holding the release (the fixture release, an air-gapped copy).
 * References that name the default namespace are re-homed onto the chosen location.
 */
import { invalidInput } from "../errors/index.js";
import { formatReference, parseReference, type Reference } from "../oci/reference.js";

/** Upstream's registry and namespace for release images. */
export const DEFAULT_REGISTRY = "ghcr.io";
export const DEFAULT_NAMESPACE = "siderolabs";

/** A release location: a registry namespace or an OCI layout directory. */
export type ReleaseLocation =
  | { kind: "registry"; registry: string; namespace: string; insecure?: boolean }
  | { kind: "oci-layout"; dir: string };

/** The upstream default location, `ghcr.io/siderolabs`. */
export const DEFAULT_RELEASE_LOCATION: ReleaseLocation = {
  kind: "registry",
  registry: DEFAULT_REGISTRY,
  namespace: DEFAULT_NAMESPACE,
};

/**
 * Parses `oci-layout:<dir>` or `<registry>[/<namespace>]` (e.g. `127.0.0.1:5000/siderolabs`);
 * a bare registry keeps the `siderolabs` namespace.
 */
export function parseReleaseLocation(text: string, opts: { insecure?: boolean } = {}): ReleaseLocation {
  const s = text.trim();
  if (s.startsWith("oci-layout:") || s.startsWith("oci:")) {
    const dir = s.slice(s.indexOf(":") + 1);
    if (dir === "") throw invalidInput(`release source ${JSON.stringify(text)}: missing directory`);
    return { kind: "oci-layout", dir };
  }
  const body = s.replace(/^registry:/, "").replace(/\/+$/, "");
  const slash = body.indexOf("/");
  const registry = slash < 0 ? body : body.slice(0, slash);
  const namespace = slash < 0 ? DEFAULT_NAMESPACE : body.slice(slash + 1);
  if (registry === "" || namespace === "" || /\s|@/.test(body)) {
    throw invalidInput(
      `release source ${JSON.stringify(text)}: expected oci-layout:<dir> or <registry>[/<namespace>]`,
    );
  }
  // Validate the shape with the reference parser (host syntax, lowercase components).
  parseReference(`${registry}/${namespace}/probe:latest`);
  return { kind: "registry", registry, namespace, ...(opts.insecure ? { insecure: true } : {}) };
}

/** Human-readable form of a location (for messages). */
export function formatReleaseLocation(loc: ReleaseLocation): string {
  return loc.kind === "oci-layout" ? `oci-layout:${loc.dir}` : `${loc.registry}/${loc.namespace}`;
}

/** The reference of a release image (`imager`, `installer-base`, …) at `tag` in a location. */
export function releaseImageRef(loc: ReleaseLocation, name: string, tag: string): Reference {
  const registry = loc.kind === "registry" ? loc.registry : DEFAULT_REGISTRY;
  const namespace = loc.kind === "registry" ? loc.namespace : DEFAULT_NAMESPACE;
  return { registry, repository: `${namespace}/${name}`, tag };
}

/**
 * Re-homes a reference from the default namespace (`ghcr.io/siderolabs/...`) onto a registry
 * location; other references are returned as they are (custom extensions pull from where they live).
 */
export function rehome(ref: Reference, loc: ReleaseLocation): Reference {
  if (loc.kind !== "registry" || !isReleaseRef(ref)) return ref;
  const prefix = `${DEFAULT_NAMESPACE}/`;
  return {
    ...ref,
    registry: loc.registry,
    repository: `${loc.namespace}/${ref.repository.slice(prefix.length)}`,
  };
}

/**
 * Whether a reference names one of the release's own images (`ghcr.io/siderolabs/...`): only those
 * are redirected to the release location (a mirror or a layout); any other registry is pulled
 * from where it lives, with its own credentials.
 */
export function isReleaseRef(ref: Reference): boolean {
  return ref.registry === DEFAULT_REGISTRY && ref.repository.startsWith(`${DEFAULT_NAMESPACE}/`);
}

/** The name a layout gives an image: `<repository>:<tag>` without the registry (as the fixture writes). */
export function layoutRefName(ref: Reference): string | undefined {
  return ref.tag === undefined ? undefined : `${ref.repository}:${ref.tag}`;
}

/** Parses a user-given image reference, as a clear invalid-input error when malformed. */
export function parseImageRef(text: string): Reference {
  return parseReference(text);
}

export { formatReference };

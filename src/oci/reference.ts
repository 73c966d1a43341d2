/**
 * Image references parsed the way the container ecosystem does (docker/distribution `reference`,
 * go-containerregistry `name`): `docker.io` is the default registry, single-segment Docker Hub names
 * get `library/`, `host:port` and `localhost` are registries, `:tag` and `@sha256:` are optional.
 */
import { BootforgeError } from "../errors/index.js";
import { isDigest, type Digest } from "./digest.js";

/** A parsed image reference. `tag` and `digest` may both be set; the digest wins when fetching. */
export interface Reference {
  /** Registry host as written, normalised: `docker.io`, `ghcr.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/alpine`, `siderolabs/installer`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

/** Docker Hub's canonical name and the host its API actually lives on. */
export const DOCKER_HUB = "docker.io";
const DOCKER_HUB_API = "registry-1.docker.io";

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]{1,5})?$/;

/** Parses `[registry/]repo[:tag][@digest]`; a bare name gets the tag `latest` unless `noDefaultTag`. */
export function parseReference(input: string, opts: { noDefaultTag?: boolean } = {}): Reference {
  const bad = (why: string) =>
    new BootforgeError("invalid-input", `invalid image reference ${JSON.stringify(input)}: ${why}`);
  const s = input.trim();
  if (s === "" || s.length > 4096) throw bad("empty or too long");
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw bad("malformed digest");
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad("malformed tag");
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    // The ecosystem's rule: a first segment with a dot or a port, or `localhost`, names a registry.
    if (first.includes(".") || first.includes(":") || first === "localhost") {
      if (!HOST.test(first)) throw bad("malformed registry host");
      registry = first.toLowerCase();
      repository = rest.slice(slash + 1);
    }
  }
  if (registry === "index.docker.io" || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  if (repository === "" || repository.length > 255) throw bad("empty or too long repository");
  for (const c of repository.split("/")) {
    if (!COMPONENT.test(c))
      throw bad(`repository component ${JSON.stringify(c)} must be lowercase [a-z0-9._-]`);
  }
  if (tag === undefined && digest === undefined && !opts.noDefaultTag) tag = "latest";
  const ref: Reference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** Parses a repository without tag or digest (`oci tags <repo>`). */
export function parseRepository(input: string): Reference {
  const r = parseReference(input, { noDefaultTag: true });
  if (r.tag !== undefined || r.digest !== undefined) {
    throw new BootforgeError(
      "invalid-input",
      `expected a repository without tag or digest, got ${JSON.stringify(input)}`,
    );
  }
  return r;
}

/** The reference as a string, `registry/repo[:tag][@digest]`. */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

/** What to ask the registry for: the digest when known, else the tag. */
export function referenceTarget(r: Reference): string {
  const t = r.digest ?? r.tag;
  if (t === undefined)
    throw new BootforgeError("invalid-input", `reference ${formatReference(r)} has no tag or digest`);
  return t;
}

/** The host the Distribution API is served on (Docker Hub's API is not on `docker.io`). */
export function registryApiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** A copy of `r` pointing at `digest` (tag kept for display). */
export function withDigest(r: Reference, digest: Digest): Reference {
  return { ...r, digest };
}

/**
 * Repositories of a release location by path (`siderolabs/imager`): inside one OCI layout
 * directory (images named `<repo>:<tag>`, as the fixture release writes them) or in a registry
 * under the location's namespace (`<registry>/<namespace>/imager`).
 */
import type { RegistryClient } from "../oci/client.js";
import type { OciLayout } from "../oci/layout.js";
import { RegistrySource, type ImageSource } from "../oci/source.js";
import { DEFAULT_NAMESPACE, type ReleaseLocation } from "./release-location.js";

/** One repository of a release, wherever it lives. */
export interface RepoAccess {
  /** Where the repository's images are read from. */
  readonly source: ImageSource;
  /** The reference string `source.resolve` accepts for a tag or digest. */
  refFor(tagOrDigest: string): string;
  /** Tags of the repository. */
  tags(): Promise<string[]>;
}

/** A repository inside an OCI layout directory. */
export function layoutRepo(layout: OciLayout, repo: string): RepoAccess {
  return {
    source: layout,
    refFor: (tag) => (tag.startsWith("sha256:") ? tag : `${repo}:${tag}`),
    tags: async () =>
      (await layout.tags()).filter((t) => t.startsWith(`${repo}:`)).map((t) => t.slice(repo.length + 1)),
  };
}

/**
 * A repository of a registry location; `repo` names the upstream path (`siderolabs/imager`),
 * whose `siderolabs/` prefix is replaced by the location's namespace.
 */
export function registryRepo(
  client: RegistryClient,
  loc: Extract<ReleaseLocation, { kind: "registry" }>,
  repo: string,
): RepoAccess {
  const prefix = `${DEFAULT_NAMESPACE}/`;
  const path = repo.startsWith(prefix) ? `${loc.namespace}/${repo.slice(prefix.length)}` : repo;
  const source = new RegistrySource(client, { registry: loc.registry, repository: path });
  return { source, refFor: (tag) => tag, tags: () => source.tags() };
}

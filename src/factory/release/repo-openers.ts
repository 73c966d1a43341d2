/**
 * `RepoOpener`s for the two kinds of release location: one OCI layout directory holding every
 * image under `org.opencontainers.image.ref.name` = `<repo>:<tag>` (the fixture release), or a
 * registry with an optional namespace prefix (upstream `artifacts.core.{registry,namespace}`).
 */
import type { RegistryClient } from "../../oci/client.js";
import type { OciLayout } from "../../oci/layout.js";
import { RegistrySource } from "../../oci/source.js";
import { repoWithNamespace } from "../../release/catalogs.js";
import type { RepoAccess, RepoOpener } from "./release-source.js";

/** Repositories inside one OCI layout directory. */
export function layoutOpener(layout: OciLayout): RepoOpener {
  return (repo) => ({
    source: layout,
    refFor: (tag) => (tag.startsWith("sha256:") ? tag : `${repo}:${tag}`),
    tags: async () =>
      (await layout.tags()).filter((t) => t.startsWith(`${repo}:`)).map((t) => t.slice(repo.length + 1)),
  });
}

/** Repositories of a registry, under `namespace` when set. */
export function registryOpener(client: RegistryClient, registry: string, namespace: string): RepoOpener {
  return (repo): RepoAccess => {
    const full = repoWithNamespace("", namespace, repo);
    const source = new RegistrySource(client, { registry, repository: full });
    return { source, refFor: (tag) => tag, tags: () => source.tags() };
  };
}

/**
 * Repositories of a release location by path (`siderolabs/imager`): inside one OCI layout
 * directory (images named `<repo>:<tag>`, as the fixture release writes them) or in a registry
 * under the location's namespace (`<registry>/<namespace>/imager`). Besides image reads, a
 * repository answers what the factory's `siderolabs/*` image proxy needs: blob sizes, blob
 * streams and referrers.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { BootforgeError } from "../errors/index.js";
import type { RegistryClient } from "../oci/client.js";
import { isDigest } from "../oci/digest.js";
import { blobPath, type OciLayout } from "../oci/layout.js";
import { MediaTypes, type Descriptor, type ImageIndex } from "../oci/media-types.js";
import type { Reference } from "../oci/reference.js";
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
  /** Size of a blob, or undefined when the repository does not have it. */
  blobSize(digest: string): Promise<number | undefined>;
  /** A blob's bytes as stored (verified against the digest by the registry client, not here). */
  openBlob(digest: string, size: number): Promise<Readable>;
  /** Manifests whose `subject` is `digest` (OCI 1.1 referrers), as an image index. */
  referrers(digest: string): Promise<ImageIndex>;
}

/** At most this many layout manifests are read looking for referrers. */
const MAX_REFERRER_SCAN = 4096;

/** A repository inside an OCI layout directory. */
export function layoutRepo(layout: OciLayout, repo: string): RepoAccess {
  const file = (digest: string) => join(layout.dir, blobPath(digest));
  return {
    source: layout,
    refFor: (tag) => (tag.startsWith("sha256:") ? tag : `${repo}:${tag}`),
    tags: async () =>
      (await layout.tags()).filter((t) => t.startsWith(`${repo}:`)).map((t) => t.slice(repo.length + 1)),
    blobSize: async (digest) =>
      isDigest(digest) ? (await stat(file(digest)).catch(() => undefined))?.size : undefined,
    openBlob: (digest) => Promise.resolve(createReadStream(file(digest))),
    referrers: async (digest) => {
      // A layout lists its top-level manifests in index.json; those whose subject is `digest`
      // (and that belong to this repository, or carry no name) refer to it.
      const found: Descriptor[] = [];
      const top = (await layout.index()).manifests.slice(0, MAX_REFERRER_SCAN);
      for (const d of top) {
        const name = d.annotations?.["org.opencontainers.image.ref.name"];
        if (name !== undefined && !name.startsWith(`${repo}:`) && !name.startsWith(`${repo}@`)) continue;
        const m = await layout.manifest(d).catch(() => undefined);
        if (m === undefined) continue;
        const parsed = JSON.parse(Buffer.from(m.bytes).toString("utf8")) as {
          subject?: { digest?: string };
          artifactType?: string;
          config?: { mediaType?: string };
          annotations?: Record<string, string>;
        };
        if (parsed.subject?.digest !== digest) continue;
        const artifactType = parsed.artifactType ?? parsed.config?.mediaType;
        found.push({
          mediaType: m.mediaType,
          digest: m.digest,
          size: m.bytes.length,
          ...(artifactType ? { artifactType } : {}),
          ...(parsed.annotations ? { annotations: parsed.annotations } : {}),
        });
      }
      return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: found };
    },
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
  const at: Reference = { registry: loc.registry, repository: path };
  const source = new RegistrySource(client, at);
  return {
    source,
    refFor: (tag) => tag,
    tags: () => source.tags(),
    blobSize: async (digest) => (isDigest(digest) ? await client.headBlob(at, digest) : undefined),
    openBlob: (digest, size) => client.blob(at, { digest, size }),
    referrers: async (digest) => {
      if (!isDigest(digest)) throw new BootforgeError("not-found", `invalid digest ${digest}`);
      return client.referrers(at, digest);
    },
  };
}

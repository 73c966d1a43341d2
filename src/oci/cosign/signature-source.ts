/**
 * Where signatures of images are read from: the repository of the image in a registry, or an
 * OCI layout directory whose images are named `<repo>:<tag>` (the fixture release, the
 * factory's installer registry). Only exact names count: a signature of the same digest in
 * another repository is not looked at.
 */
import type { Readable } from "node:stream";
import { BootforgeError } from "../../errors/index.js";
import type { ManifestData, RegistryClient } from "../client.js";
import { REF_NAME, type OciLayout } from "../layout.js";
import { MediaTypes, parseManifest, type Descriptor } from "../media-types.js";
import type { Reference } from "../reference.js";
import { SIGSTORE_BUNDLE_MEDIA_TYPE } from "./format.js";

/** Read access to an image's signatures. */
export interface SignatureSource {
  readonly description: string;
  /** The docker-reference a signature made here would claim (the repository). */
  readonly repository: string;
  /** The manifest tagged `tag` (a bare tag like `sha256-<hex>.sig`), or undefined. */
  tagged(tag: string): Promise<ManifestData | undefined>;
  /** A manifest by digest. */
  manifest(desc: Pick<Descriptor, "digest">): Promise<ManifestData>;
  /** A blob, digest-verified. */
  blob(desc: Pick<Descriptor, "digest" | "size">): Promise<Readable>;
  /** Sigstore bundle referrers of `digest` (OCI 1.1); empty where the source has none. */
  bundleReferrers(digest: string): Promise<Descriptor[]>;
}

/** Signatures of `repo` in an OCI layout (names `<repo>:<tag>`). */
export function layoutSignatures(layout: OciLayout, repo: string): SignatureSource {
  return {
    description: `${layout.description} ${repo}`,
    repository: repo,
    tagged: async (tag) => {
      const name = `${repo}:${tag}`;
      const hit = (await layout.index()).manifests.find((d) => d.annotations?.[REF_NAME] === name);
      return hit === undefined ? undefined : layout.manifest(hit);
    },
    manifest: (desc) => layout.manifest(desc),
    blob: (desc) => layout.blob(desc),
    // A layout lists referrers in index.json as manifests whose subject is the image.
    bundleReferrers: async (digest) => {
      const out: Descriptor[] = [];
      for (const d of (await layout.index()).manifests) {
        if (d.artifactType !== SIGSTORE_BUNDLE_MEDIA_TYPE) continue;
        const m = parseManifest((await layout.manifest(d)).bytes, d.mediaType);
        if (m.kind === "manifest" && m.manifest.subject?.digest === digest) out.push(d);
      }
      return out;
    },
  };
}

/** Signatures of a registry repository. */
export function registrySignatures(client: RegistryClient, repo: Reference): SignatureSource {
  const r: Reference = { registry: repo.registry, repository: repo.repository };
  return {
    description: `${r.registry}/${r.repository}`,
    repository: `${r.registry}/${r.repository}`,
    tagged: async (tag) => {
      if ((await client.headManifest({ ...r, tag }, MediaTypes.ociManifest)) === undefined) return undefined;
      return client.getManifest({ ...r, tag }, MediaTypes.ociManifest);
    },
    manifest: (desc) => client.getManifest({ ...r, digest: desc.digest }),
    blob: (desc) => client.blob(r, desc),
    bundleReferrers: async (digest) => {
      try {
        return (await client.referrers(r, digest, SIGSTORE_BUNDLE_MEDIA_TYPE)).manifests;
      } catch (e) {
        // Registries without the referrers API or tag fallback simply have no bundles.
        if (e instanceof BootforgeError && (e.kind === "not-found" || e.kind === "unsupported")) return [];
        throw e;
      }
    },
  };
}

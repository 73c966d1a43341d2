/**
 * The `/v2/siderolabs/<name>/...` image proxy (upstream `ComponentsOptions.ImageMap`): manifests,
 * blobs, tag lists and referrers of the release's own images, read from wherever the release
 * lives — a local OCI layout (the embedded demo, air-gapped copies) or a registry (digests are
 * verified while streaming). Unknown images and shapes are plain-text 404s, as upstream's.
 */
import { Readable } from "node:stream";
import { BootforgeError, isBootforgeError } from "../../errors/index.js";
import type { ManifestData } from "../../oci/client.js";
import { isDigest } from "../../oci/digest.js";
import { MediaTypes, type ImageIndex } from "../../oci/media-types.js";
import { plainError } from "../http/plain-error.js";
import type { FactoryServices } from "../services.js";
import { tagListResponse } from "./tag-list.js";

/** Images the proxy serves (upstream `ComponentsOptions.ImageMap`). */
export const PROXIED_IMAGES: ReadonlySet<string> = new Set([
  "installer-base",
  "installer",
  "imager",
  "extensions",
  "overlays",
  "talosctl-all",
]);

/** A manifest or index as the distribution API answers it. */
export function manifestResponse(method: string, m: ManifestData): Response {
  return new Response(method === "HEAD" ? null : new Uint8Array(m.bytes), {
    status: 200,
    headers: {
      "Content-Type": m.mediaType,
      "Content-Length": String(m.bytes.length),
      "Docker-Content-Digest": m.digest,
    },
  });
}

/** A blob as the distribution API answers it. */
export function blobResponse(method: string, digest: string, size: number, open: () => Readable): Response {
  const body = method === "HEAD" ? null : (Readable.toWeb(open()) as ReadableStream<Uint8Array>);
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(size),
      "Docker-Content-Digest": digest,
    },
  });
}

/** A referrers answer (OCI 1.1): an image index, with the filter applied when asked. */
export function referrersResponse(method: string, index: ImageIndex, artifactType?: string): Response {
  const manifests =
    artifactType === undefined
      ? index.manifests
      : index.manifests.filter((m) => m.artifactType === artifactType);
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
  return new Response(method === "HEAD" ? null : new Uint8Array(bytes), {
    status: 200,
    headers: {
      "Content-Type": MediaTypes.ociIndex,
      "Content-Length": String(bytes.length),
      ...(artifactType === undefined ? {} : { "OCI-Filters-Applied": "artifactType" }),
    },
  });
}

const notFound = (e: unknown) => isBootforgeError(e, "not-found");

/** Answers one proxied request. */
export async function proxyImage(
  s: FactoryServices,
  req: {
    method: string;
    image: string;
    resource: string;
    reference: string;
    artifactType?: string;
    /** Tag-list paging (`n`, `last`). */
    query?: { n?: string | undefined; last?: string | undefined };
  },
): Promise<Response> {
  const { method, image, resource, reference } = req;
  if (!PROXIED_IMAGES.has(image)) return plainError(404, `unknown image: ${image}`);
  const repo = await s.release.repo(`siderolabs/${image}`);
  if (resource === "tags")
    return tagListResponse(method, `siderolabs/${image}`, await repo.tags(), req.query ?? {});
  if (resource === "referrers") {
    if (!isDigest(reference)) return plainError(404, `invalid digest ${reference}`);
    return referrersResponse(method, await repo.referrers(reference), req.artifactType);
  }
  if (resource === "manifests") {
    try {
      const desc = await repo.source.resolve(repo.refFor(reference));
      return manifestResponse(method, await repo.source.manifest(desc));
    } catch (e) {
      if (notFound(e)) return plainError(404, `manifest ${reference} not found`);
      throw e;
    }
  }
  if (resource !== "blobs" || !isDigest(reference)) return plainError(404, `invalid digest ${reference}`);
  const size = await repo.blobSize(reference);
  if (size === undefined) return plainError(404, `blob ${reference} not found`);
  if (method === "HEAD") return blobResponse(method, reference, size, () => Readable.from([]));
  // Opened before answering so a blob that vanished is still a 404, not a broken 200.
  const stream = await repo.openBlob(reference, size).catch((e: unknown) => {
    if (notFound(e)) return undefined;
    throw e instanceof BootforgeError ? e : new BootforgeError("dependency", (e as Error).message);
  });
  if (stream === undefined) return plainError(404, `blob ${reference} not found`);
  return blobResponse(method, reference, size, () => stream);
}

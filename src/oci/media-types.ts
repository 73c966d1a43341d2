/**
 * OCI and Docker schema 2 media types and the JSON shapes of manifests, indexes and descriptors.
 * Both families appear in the wild (Talos releases are OCI, imager installer tarballs are Docker),
 * so every reader accepts both and writers pick one explicitly.
 */
import { BootforgeError } from "../errors/index.js";

/** Media types Bootforge reads and writes. */
export const MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
} as const;

/** The Accept header for manifest requests: every manifest and index type we understand. */
export const MANIFEST_ACCEPT = [
  MediaTypes.ociIndex,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifestList,
  MediaTypes.dockerManifest,
].join(", ");

/** An OS/architecture pair as in OCI descriptors (`variant` e.g. `v8` for arm64). */
export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
  features?: string[];
}

/** A content descriptor: what a blob or manifest is, its digest and size. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  urls?: string[];
  annotations?: Record<string, string>;
  platform?: Platform;
  artifactType?: string;
}

/** An image manifest (OCI or Docker schema 2). */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** An image index (OCI) or manifest list (Docker). */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

/** The image config fields Bootforge reads (the rest is kept verbatim in the raw bytes). */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  config?: Record<string, unknown>;
  rootfs?: { type: string; diff_ids: string[] };
  history?: unknown[];
}

/** True for OCI index and Docker manifest list media types. */
export function isIndexMediaType(mt: string | undefined): boolean {
  return mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList;
}

/** True for OCI and Docker image manifest media types. */
export function isManifestMediaType(mt: string | undefined): boolean {
  return mt === MediaTypes.ociManifest || mt === MediaTypes.dockerManifest;
}

/** A parsed manifest document: either an index or an image manifest. */
export type ParsedManifest =
  | { kind: "index"; mediaType: string; index: ImageIndex }
  | { kind: "manifest"; mediaType: string; manifest: ImageManifest };

/** Parses manifest bytes; `hint` is the Content-Type or descriptor media type when the body omits it. */
export function parseManifest(bytes: Uint8Array, hint?: string): ParsedManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (e) {
    throw new BootforgeError("dependency", "manifest is not valid JSON", { cause: e });
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new BootforgeError("dependency", "manifest is not a JSON object");
  }
  const o = doc as Record<string, unknown>;
  const declared = typeof o.mediaType === "string" ? o.mediaType : undefined;
  const hinted = hint?.split(";")[0]?.trim();
  // The body's own mediaType wins; registries sometimes answer with a generic Content-Type.
  const mt =
    declared ??
    (hinted && (isIndexMediaType(hinted) || isManifestMediaType(hinted))
      ? hinted
      : Array.isArray(o.manifests)
        ? MediaTypes.ociIndex
        : MediaTypes.ociManifest);
  if (o.schemaVersion !== 2) {
    throw new BootforgeError("unsupported", `unsupported manifest schemaVersion ${String(o.schemaVersion)}`);
  }
  if (isIndexMediaType(mt) || (!isManifestMediaType(mt) && Array.isArray(o.manifests))) {
    if (!Array.isArray(o.manifests)) throw new BootforgeError("dependency", "index has no manifests array");
    for (const d of o.manifests) checkDescriptor(d, "index entry");
    return { kind: "index", mediaType: mt, index: o as unknown as ImageIndex };
  }
  checkDescriptor(o.config, "manifest config");
  if (!Array.isArray(o.layers)) throw new BootforgeError("dependency", "manifest has no layers array");
  for (const d of o.layers) checkDescriptor(d, "manifest layer");
  return { kind: "manifest", mediaType: mt, manifest: o as unknown as ImageManifest };
}

function checkDescriptor(d: unknown, what: string): void {
  const o = d as Partial<Descriptor> | null;
  if (
    typeof o !== "object" ||
    o === null ||
    typeof o.digest !== "string" ||
    typeof o.size !== "number" ||
    !Number.isSafeInteger(o.size) ||
    o.size < 0 ||
    typeof o.mediaType !== "string"
  ) {
    throw new BootforgeError("dependency", `malformed ${what} descriptor`);
  }
}

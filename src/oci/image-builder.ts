/**
 * Assembles images from built layers: config, manifest and multi-platform index with fixed key
 * order and no timestamps unless given, so equal inputs give equal digests; and writes them to a sink.
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import type { ManifestData } from "./client.js";
import { sha256Of } from "./digest.js";
import type { BuiltLayer } from "./layer-builder.js";
import { MediaTypes, type Descriptor, type Platform } from "./media-types.js";
import type { ImageSink } from "./source.js";

/** Inputs of one single-platform image. */
export interface ImageInput {
  layers: readonly BuiltLayer[];
  platform: Platform;
  /** The runtime `config` section (Env, Entrypoint, Labels…). */
  runtimeConfig?: Record<string, unknown>;
  /** RFC 3339 creation time; omitted when undefined (reproducible). */
  created?: string;
  /** OCI (default) or Docker schema 2 media types. */
  format?: "oci" | "docker";
  annotations?: Record<string, string>;
}

/** An assembled image ready to be written. */
export interface BuiltImage {
  manifest: ManifestData;
  config: { bytes: Buffer; descriptor: Descriptor };
  layers: readonly BuiltLayer[];
  platform: Platform;
}

/** Builds config and manifest for `input`. */
export function assembleImage(input: ImageInput): BuiltImage {
  const docker = input.format === "docker";
  const config: Record<string, unknown> = {};
  if (input.created) config.created = input.created;
  config.architecture = input.platform.architecture;
  config.os = input.platform.os;
  if (input.platform.variant) config.variant = input.platform.variant;
  config.config = input.runtimeConfig ?? {};
  config.rootfs = { type: "layers", diff_ids: input.layers.map((l) => l.diffId) };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDesc: Descriptor = {
    mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
    digest: sha256Of(configBytes),
    size: configBytes.length,
  };
  const mediaType = docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest;
  const layers = input.layers.map((l) => ({
    ...l.descriptor,
    mediaType:
      docker && l.descriptor.mediaType === MediaTypes.ociLayerGzip
        ? MediaTypes.dockerLayerGzip
        : l.descriptor.mediaType,
  }));
  const manifest = {
    schemaVersion: 2,
    mediaType,
    config: configDesc,
    layers,
    ...(input.annotations ? { annotations: input.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  return {
    manifest: { bytes, mediaType, digest: sha256Of(bytes) },
    config: { bytes: configBytes, descriptor: configDesc },
    layers: input.layers,
    platform: input.platform,
  };
}

/** Builds an index (OCI) or manifest list (Docker) over `images`. */
export function assembleIndex(images: readonly BuiltImage[], format: "oci" | "docker" = "oci"): ManifestData {
  const mediaType = format === "docker" ? MediaTypes.dockerManifestList : MediaTypes.ociIndex;
  const index = {
    schemaVersion: 2,
    mediaType,
    manifests: images.map((i) => ({
      mediaType: i.manifest.mediaType,
      digest: i.manifest.digest,
      size: i.manifest.bytes.length,
      platform: i.platform,
    })),
  };
  const bytes = Buffer.from(JSON.stringify(index));
  return { bytes, mediaType, digest: sha256Of(bytes) };
}

/** Writes an image's blobs and manifest to `sink` (as root with `tag` unless `root` is false). */
export async function writeImage(
  sink: ImageSink,
  image: BuiltImage,
  opts: { tag?: string; root?: boolean } = {},
): Promise<void> {
  const cfg = image.config;
  if (!(await sink.hasBlob(cfg.descriptor))) {
    await sink.putBlob(cfg.descriptor, () => Promise.resolve(Readable.from([cfg.bytes])));
  }
  for (const l of image.layers) {
    if (await sink.hasBlob(l.descriptor)) continue;
    await sink.putBlob(l.descriptor, () => Promise.resolve(createReadStream(l.path)));
  }
  const root = opts.root ?? true;
  await sink.putManifest(image.manifest, {
    root,
    ...(root && opts.tag ? { tag: opts.tag } : {}),
    ...(root ? { platform: image.platform } : {}),
  });
}

/** Writes every image and then their index to `sink` under `tag`. */
export async function writeIndex(
  sink: ImageSink,
  images: readonly BuiltImage[],
  index: ManifestData,
  tag?: string,
): Promise<void> {
  for (const i of images) await writeImage(sink, i, { root: false });
  await sink.putManifest(index, { root: true, ...(tag ? { tag } : {}) });
}

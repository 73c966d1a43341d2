/**
 * Image-level operations over any source and sink: resolve a reference (and platform) to one
 * image manifest with its config, and copy images or whole indexes between locations.
 */
import { BootforgeError } from "../errors/index.js";
import type { ManifestData } from "./client.js";
import { verifyBytes } from "./digest.js";
import {
  parseManifest,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  type Platform,
} from "./media-types.js";
import { formatPlatform, normalizePlatform, platformMatches, selectPlatform } from "./platform.js";
import type { ImageSink, ImageSource } from "./source.js";

/** One platform's image: its manifest, config and where it came from. */
export interface ResolvedImage {
  source: ImageSource;
  /** What the reference named (an index for multi-arch images). */
  root: Descriptor;
  /** The image manifest's descriptor (equal to `root` for single-arch images). */
  descriptor: Descriptor;
  manifest: ImageManifest;
  manifestData: ManifestData;
  config: ImageConfig;
  configBytes: Buffer;
}

const MAX_CONFIG = 8 << 20;
const MAX_DEPTH = 4;

/** Reads a blob fully (configs, small metadata), bounded. */
export async function readSmallBlob(src: ImageSource, desc: Descriptor, limit = MAX_CONFIG): Promise<Buffer> {
  if (desc.size > limit)
    throw new BootforgeError("too-large", `blob ${desc.digest} is ${desc.size} bytes (limit ${limit})`);
  if (src.smallBlob !== undefined) return src.smallBlob(desc);
  const chunks: Buffer[] = [];
  for await (const c of await src.blob(desc)) chunks.push(c as Buffer);
  const bytes = Buffer.concat(chunks);
  verifyBytes(bytes, desc.digest, `blob ${desc.digest}`);
  return bytes;
}

/**
 * Resolves `ref` in `src` to a single image. An index is narrowed to `platform` (required then);
 * a single image is checked against `platform` when its config says what it is.
 */
export async function resolveImage(
  src: ImageSource,
  ref: string,
  platform?: Platform,
): Promise<ResolvedImage> {
  const root = await src.resolve(ref);
  let desc = root;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const data = await src.manifest(desc);
    const parsed = parseManifest(data.bytes, data.mediaType);
    if (parsed.kind === "index") {
      if (!platform) {
        throw new BootforgeError(
          "invalid-input",
          `${src.description}:${ref || "(default)"} is a multi-platform index; choose a platform`,
        );
      }
      desc = selectPlatform(parsed.index, platform, `${src.description}:${ref}`);
      continue;
    }
    const configBytes = await readSmallBlob(src, parsed.manifest.config);
    let config: ImageConfig = {};
    try {
      config = JSON.parse(configBytes.toString("utf8")) as ImageConfig;
    } catch {
      // Artifacts (e.g. the factory's cache entries) may carry non-JSON or empty configs.
    }
    if (platform && config.architecture && config.os) {
      const have: Platform = {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      };
      const w = normalizePlatform(platform);
      const h = normalizePlatform(have);
      // Single-arch images often omit the variant; compare it only when both state one.
      if (w.os !== h.os || w.architecture !== h.architecture || (config.variant && !platformMatches(w, h))) {
        throw new BootforgeError(
          "not-found",
          `${src.description}:${ref} is ${formatPlatform(have)}, not ${formatPlatform(platform)}`,
        );
      }
    }
    return {
      source: src,
      root,
      descriptor: { ...desc, mediaType: data.mediaType, digest: data.digest, size: data.bytes.length },
      manifest: parsed.manifest,
      manifestData: data,
      config,
      configBytes,
    };
  }
  throw new BootforgeError("dependency", `${src.description}:${ref}: indexes nested too deeply`);
}

/** Options for {@link copyImage}. */
export interface CopyOptions {
  /** Tag (or layout ref name) for the copied root; defaults to none (by digest). */
  tag?: string;
  /** Copy only this platform's image (as the root) instead of the whole index. */
  platform?: Platform;
  /** Blobs copied in parallel (default 3). */
  concurrency?: number;
}

/** Copies the image or index `ref` names from `src` to `dst`; returns the written root descriptor. */
export async function copyImage(
  src: ImageSource,
  ref: string,
  dst: ImageSink,
  opts: CopyOptions = {},
): Promise<Descriptor> {
  if (opts.platform) {
    const img = await resolveImage(src, ref, opts.platform);
    await copyManifestTree(src, dst, img.descriptor, img.manifestData, opts, true);
    return img.descriptor;
  }
  const root = await src.resolve(ref);
  const data = await src.manifest(root);
  await copyManifestTree(src, dst, root, data, opts, true);
  return { ...root, mediaType: data.mediaType, digest: data.digest, size: data.bytes.length };
}

async function copyManifestTree(
  src: ImageSource,
  dst: ImageSink,
  desc: Descriptor,
  data: ManifestData,
  opts: CopyOptions,
  root: boolean,
  depth = 0,
): Promise<void> {
  if (depth > MAX_DEPTH)
    throw new BootforgeError("dependency", `${src.description}: indexes nested too deeply`);
  const parsed = parseManifest(data.bytes, data.mediaType);
  if (parsed.kind === "index") {
    const index: ImageIndex = parsed.index;
    for (const child of index.manifests) {
      const childData = await src.manifest(child);
      await copyManifestTree(src, dst, child, childData, opts, false, depth + 1);
    }
  } else {
    const blobs = [parsed.manifest.config, ...parsed.manifest.layers];
    await forEachLimit(blobs, opts.concurrency ?? 3, async (b) => {
      if (await dst.hasBlob(b)) return;
      await dst.putBlob(b, () => src.blob(b));
    });
  }
  await dst.putManifest(data, {
    root,
    ...(root && opts.tag ? { tag: opts.tag } : {}),
    ...(root && desc.platform ? { platform: desc.platform } : {}),
  });
}

/** Runs `fn` over `items` with at most `limit` in flight; the first failure wins. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (t: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

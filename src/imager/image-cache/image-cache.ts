/**
 * `--image-cache` (imager.md §11.2): the cache image, from a registry reference or an OCI layout
 * directory, selected for `linux/<arch>`, flattened and extracted into a directory. Disk images
 * put that directory into the ext4 IMAGECACHE partition (sized from its files); ISOs carry it as
 * `/imagecache`.
 */
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import type { RegistryClient } from "../../oci/client.js";
import { extractTar } from "../../oci/extract.js";
import { flattenImage } from "../../oci/flatten.js";
import { resolveImage } from "../../oci/image.js";
import { OciLayout } from "../../oci/layout.js";
import { parseReference, referenceTarget } from "../../oci/reference.js";
import { RegistrySource, type ImageSource } from "../../oci/source.js";
import type { ContainerAsset } from "../../profile/model.js";
import { imageCachePartitionSize } from "../../formats/disk-layout.js";
import { readTree, treeFileBytes } from "../filesystems/source-tree.js";

/** The image source and name an image-cache input points at. */
export async function openImageCache(
  asset: ContainerAsset,
  client: () => RegistryClient,
): Promise<{ source: ImageSource; ref: string }> {
  if (asset.ociPath) return { source: await OciLayout.open(asset.ociPath), ref: "" };
  if (asset.imageRef) {
    const ref = parseReference(asset.imageRef);
    return { source: new RegistrySource(client(), ref), ref: referenceTarget(ref) };
  }
  throw invalidInput("the image cache input names neither an image reference nor an OCI layout path");
}

/** Extracts the cache image for `linux/<arch>` into `dest` (created; must be empty). */
export async function extractImageCache(
  cache: { source: ImageSource; ref: string },
  arch: string,
  dest: string,
): Promise<void> {
  const image = await resolveImage(cache.source, cache.ref, { os: "linux", architecture: arch });
  await mkdir(dest, { recursive: true });
  if ((await readdir(dest)).length > 0) throw invalidInput(`image cache directory ${dest} is not empty`);
  await extractTar(flattenImage(image), dest, { decompress: false });
}

/** The ISO layout: the cache extracted under `<isoRoot>/imagecache`. */
export async function extractImageCacheForIso(
  cache: { source: ImageSource; ref: string },
  arch: string,
  isoRoot: string,
): Promise<string> {
  const dir = join(isoRoot, "imagecache");
  await extractImageCache(cache, arch, dir);
  return dir;
}

/** The IMAGECACHE partition size for an extracted cache (file bytes + 20 %, MiB-rounded). */
export async function imageCacheSize(dir: string): Promise<number> {
  return imageCachePartitionSize(treeFileBytes(await readTree(dir)));
}

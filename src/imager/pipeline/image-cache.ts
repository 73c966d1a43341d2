/**
 * `--image-cache` for the pipeline (imager.md §11.2): an OCI layout path is opened directly; a
 * reference is resolved through the release source, so `--release-source` and the registry
 * client's auth apply as they do to every other input. The cache is extracted for the target
 * architecture into a directory the ISO and disk stages consume.
 */
import type { ContainerAsset } from "../../profile/model.js";
import { parseReference } from "../../oci/reference.js";
import type { ReleaseSource } from "../../release/release-source.js";
import { extractImageCache, openImageCache } from "../image-cache/image-cache.js";
import { invalidInput } from "../../errors/index.js";

/** Extracts the profile's image cache into `dest` (created, must be empty). */
export async function extractProfileImageCache(
  release: ReleaseSource,
  asset: ContainerAsset,
  arch: string,
  dest: string,
): Promise<void> {
  if (asset.ociPath) {
    const cache = await openImageCache(asset, () => {
      throw invalidInput("an OCI layout image cache needs no registry client");
    });
    await extractImageCache(cache, arch, dest);
    return;
  }
  if (!asset.imageRef) throw invalidInput("the image cache names neither an image reference nor an OCI path");
  const image = await release.resolve(parseReference(asset.imageRef), asset.forceInsecure === true);
  // The resolved manifest digest pins what was resolved; extraction selects the same platform.
  await extractImageCache({ source: image.source, ref: image.descriptor.digest }, arch, dest);
}

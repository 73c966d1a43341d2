/** `--image-cache`: open, extract for an architecture, size the IMAGECACHE partition. */
export { extractImageCache, extractImageCacheForIso, imageCacheSize, openImageCache } from "./image-cache.js";

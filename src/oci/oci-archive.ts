/** Writes an OCI tar: an OCI image layout packed in a tar, entries sorted, times and owners fixed. */
import type { Writable } from "node:stream";
import { BootforgeError } from "../errors/index.js";
import { TarWriter } from "./archive-writer.js";
import type { ManifestData } from "./client.js";
import { parseManifest, MediaTypes, type Descriptor, type Platform } from "./media-types.js";
import { resolveImage } from "./image.js";
import { blobPath, REF_NAME } from "./layout.js";
import type { ImageSource } from "./source.js";

/** One image (or whole index when no platform) to put into an OCI tar under `name`. */
export interface OciArchiveImage {
  source: ImageSource;
  ref: string;
  platform?: Platform;
  name?: string;
}

/** Streams an OCI tar of `images` to `out`. */
export async function writeOciArchive(
  out: Writable,
  images: readonly OciArchiveImage[],
  epochSeconds = 0,
): Promise<void> {
  // First collect every blob (by digest) so the tar can list them sorted and once.
  const blobs = new Map<string, { desc: Descriptor; source: ImageSource; bytes?: Buffer }>();
  const roots: Descriptor[] = [];
  const addManifest = async (
    src: ImageSource,
    desc: Descriptor,
    data: ManifestData,
    depth: number,
  ): Promise<void> => {
    if (depth > 4) throw new BootforgeError("dependency", `${src.description}: indexes nested too deeply`);
    blobs.set(data.digest, {
      desc: { ...desc, digest: data.digest, size: data.bytes.length },
      source: src,
      bytes: data.bytes,
    });
    const parsed = parseManifest(data.bytes, data.mediaType);
    if (parsed.kind === "index") {
      for (const child of parsed.index.manifests)
        await addManifest(src, child, await src.manifest(child), depth + 1);
    } else {
      for (const b of [parsed.manifest.config, ...parsed.manifest.layers])
        blobs.set(b.digest, { desc: b, source: src });
    }
  };
  for (const spec of images) {
    let desc: Descriptor;
    let data: ManifestData;
    if (spec.platform) {
      const img = await resolveImage(spec.source, spec.ref, spec.platform);
      desc = { ...img.descriptor, platform: spec.platform };
      data = img.manifestData;
    } else {
      desc = await spec.source.resolve(spec.ref);
      data = await spec.source.manifest(desc);
    }
    await addManifest(spec.source, desc, data, 0);
    roots.push({
      mediaType: data.mediaType,
      digest: data.digest,
      size: data.bytes.length,
      ...(spec.name ? { annotations: { [REF_NAME]: spec.name } } : {}),
      ...(desc.platform ? { platform: desc.platform } : {}),
    });
  }
  const w = new TarWriter(out, epochSeconds);
  try {
    const paths = [...blobs.keys()]
      .map((d) => [blobPath(d), d] as const)
      .sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const dirs = new Set(paths.map(([p]) => p.slice(0, p.lastIndexOf("/"))));
    await w.dir("blobs");
    for (const d of [...dirs].sort()) await w.dir(d);
    for (const [path, digest] of paths) {
      const b = blobs.get(digest);
      if (!b) continue;
      if (b.bytes) await w.bytes(path, b.bytes);
      else await w.stream(path, b.desc.size, await b.source.blob(b.desc));
    }
    await w.bytes(
      "index.json",
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: roots })),
    );
    await w.bytes("oci-layout", Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })));
    await w.finish();
  } catch (e) {
    w.abort(e as Error);
    throw e;
  }
}

/**
 * docker-archive tarballs (`docker save` / go-containerregistry `tarball`): `manifest.json`
 * listing each image's config file, tags and layer files. Read as an ImageSource (manifests are
 * synthesised by hashing the members once) and written from any ImageSource.
 */
import type { Readable, Writable } from "node:stream";
import { BootforgeError } from "../errors/index.js";
import { TarWriter } from "./archive-writer.js";
import type { ManifestData } from "./client.js";
import { sniffCompression } from "./compression.js";
import { DigestVerifier, digestHex, HashingStream, sha256Of, verifyBytes } from "./digest.js";
import { resolveImage, type ResolvedImage } from "./image.js";
import { MediaTypes, type Descriptor, type Platform } from "./media-types.js";
import { notFoundRef, type ImageSource } from "./source.js";
import { TarIndex } from "./tar-index.js";

interface ArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** A docker-archive tar file as an image source; `resolve` takes a RepoTag, its tag part, or `""`. */
export class DockerArchive implements ImageSource {
  readonly description: string;
  readonly #tar: TarIndex;
  readonly #entries: ArchiveEntry[];
  readonly #manifests = new Map<string, ManifestData>();
  readonly #blobs = new Map<string, string>();

  private constructor(tarIndex: TarIndex, entries: ArchiveEntry[]) {
    this.#tar = tarIndex;
    this.#entries = entries;
    this.description = tarIndex.path;
  }

  /** Opens a docker-archive (uncompressed tar). */
  static async open(path: string): Promise<DockerArchive> {
    const idx = await TarIndex.open(path);
    if (!idx.get("manifest.json"))
      throw new BootforgeError("invalid-input", `${path} is not a docker-archive (no manifest.json)`);
    let entries: ArchiveEntry[];
    try {
      entries = JSON.parse((await idx.read("manifest.json")).toString("utf8")) as ArchiveEntry[];
    } catch {
      throw new BootforgeError("invalid-input", `${path}: manifest.json is not valid JSON`);
    }
    if (
      !Array.isArray(entries) ||
      entries.some((e) => typeof e.Config !== "string" || !Array.isArray(e.Layers))
    ) {
      throw new BootforgeError("invalid-input", `${path}: manifest.json is malformed`);
    }
    return new DockerArchive(idx, entries);
  }

  /** RepoTags of every image in the archive. */
  tags(): string[] {
    return this.#entries.flatMap((e) => e.RepoTags ?? []);
  }

  async resolve(ref: string): Promise<Descriptor> {
    const entry =
      ref === ""
        ? this.#entries.length === 1
          ? this.#entries[0]
          : undefined
        : this.#entries.find((e) =>
            (e.RepoTags ?? []).some((t) => t === ref || t.endsWith(`:${ref}`) || t.endsWith(`/${ref}`)),
          );
    if (!entry) {
      if (ref === "" && this.#entries.length !== 1) {
        throw new BootforgeError(
          "invalid-input",
          `${this.description} holds ${this.#entries.length} images; name one`,
        );
      }
      throw notFoundRef(`${this.description}:${ref}`);
    }
    const data = await this.#synthesise(entry);
    return { mediaType: data.mediaType, digest: data.digest, size: data.bytes.length };
  }

  manifest(desc: Pick<Descriptor, "digest">): Promise<ManifestData> {
    const m = this.#manifests.get(desc.digest);
    if (!m)
      return Promise.reject(
        new BootforgeError("not-found", `${this.description}: no manifest ${desc.digest}`),
      );
    return Promise.resolve(m);
  }

  blob(desc: Pick<Descriptor, "digest" | "size">): Promise<Readable> {
    const name = this.#blobs.get(desc.digest);
    if (!name)
      return Promise.reject(new BootforgeError("not-found", `${this.description}: no blob ${desc.digest}`));
    const v = new DigestVerifier(desc.digest, {
      size: desc.size,
      what: `${this.description}: ${name}`,
      kind: "io",
    });
    const s = this.#tar.stream(name);
    s.on("error", (e) => v.destroy(e));
    return Promise.resolve(s.pipe(v));
  }

  async #synthesise(entry: ArchiveEntry): Promise<ManifestData> {
    const configBytes = await this.#tar.read(entry.Config);
    const hinted = /^(?:sha256:)?([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config.split("/").pop() ?? "");
    if (hinted?.[1])
      verifyBytes(configBytes, `sha256:${hinted[1]}`, `${this.description}: ${entry.Config}`, "io");
    const configDigest = sha256Of(configBytes);
    this.#blobs.set(configDigest, entry.Config);
    const layers: Descriptor[] = [];
    for (const name of entry.Layers) {
      if (!this.#tar.get(name))
        throw new BootforgeError("invalid-input", `${this.description}: layer ${name} is missing`);
      const h = new HashingStream();
      let head: Buffer | undefined;
      for await (const c of this.#tar.stream(name).pipe(h)) head ??= c as Buffer;
      const comp = sniffCompression(head ?? Buffer.alloc(0));
      const mediaType =
        comp === "gzip"
          ? MediaTypes.dockerLayerGzip
          : comp === "zstd"
            ? MediaTypes.ociLayerZstd
            : MediaTypes.ociLayer;
      layers.push({ mediaType, digest: h.digest, size: h.size });
      this.#blobs.set(h.digest, name);
    }
    // Docker schema 2 like go-containerregistry when every layer is gzip; OCI otherwise.
    const docker = layers.every((l) => l.mediaType === MediaTypes.dockerLayerGzip);
    const manifest = {
      schemaVersion: 2,
      mediaType: docker ? MediaTypes.dockerManifest : MediaTypes.ociManifest,
      config: {
        mediaType: docker ? MediaTypes.dockerConfig : MediaTypes.ociConfig,
        digest: configDigest,
        size: configBytes.length,
      },
      layers: docker
        ? layers
        : layers.map((l) =>
            l.mediaType === MediaTypes.dockerLayerGzip ? { ...l, mediaType: MediaTypes.ociLayerGzip } : l,
          ),
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const data: ManifestData = { bytes, mediaType: manifest.mediaType, digest: sha256Of(bytes) };
    this.#manifests.set(data.digest, data);
    return data;
  }
}

/** One image to put into a docker-archive. */
export interface ArchiveImage {
  source: ImageSource;
  ref: string;
  platform?: Platform;
  /** RepoTags recorded in manifest.json (e.g. the base installer ref, as upstream does). */
  repoTags?: string[];
}

/** Writes a docker-archive of `images` to `out` (config `sha256:<hex>`, layers `<hex>.tar.gz`, then manifest.json). */
export async function writeDockerArchive(
  out: Writable,
  images: readonly ArchiveImage[],
  epochSeconds = 0,
): Promise<void> {
  const w = new TarWriter(out, epochSeconds);
  try {
    const written = new Set<string>();
    const manifest: ArchiveEntry[] = [];
    for (const spec of images) {
      const img: ResolvedImage = await resolveImage(spec.source, spec.ref, spec.platform);
      const configName = `sha256:${digestHex(img.manifest.config.digest)}`;
      if (!written.has(configName)) {
        await w.bytes(configName, img.configBytes);
        written.add(configName);
      }
      const layerNames: string[] = [];
      for (const l of img.manifest.layers) {
        const ext = l.mediaType.endsWith("gzip")
          ? ".tar.gz"
          : l.mediaType.endsWith("zstd")
            ? ".tar.zst"
            : ".tar";
        const name = `${digestHex(l.digest)}${ext}`;
        layerNames.push(name);
        if (written.has(name)) continue;
        await w.stream(name, l.size, await spec.source.blob(l));
        written.add(name);
      }
      manifest.push({ Config: configName, RepoTags: spec.repoTags ?? [], Layers: layerNames });
    }
    await w.bytes("manifest.json", Buffer.from(JSON.stringify(manifest)));
    await w.finish();
  } catch (e) {
    w.abort(e as Error);
    throw e;
  }
}

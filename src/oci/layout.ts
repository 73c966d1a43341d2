/**
 * OCI image layout (image-spec `image-layout.md`): `oci-layout`, `index.json` and
 * `blobs/<alg>/<hex>`, as a directory (read/write) or inside an OCI tar (read). Several images
 * live side by side, named by the `org.opencontainers.image.ref.name` annotation.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError } from "../errors/index.js";
import type { ManifestData } from "./client.js";
import { digestAlgorithm, digestHex, DigestVerifier, isDigest, parseDigest, verifyBytes } from "./digest.js";
import { MediaTypes, parseManifest, type Descriptor, type ImageIndex } from "./media-types.js";
import { notFoundRef, type ImageSink, type ImageSource, type PutManifestOptions } from "./source.js";
import { TarIndex } from "./tar-index.js";

/** The annotation naming an image in a layout's index.json. */
export const REF_NAME = "org.opencontainers.image.ref.name";
const LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: "1.0.0" });
const MAX_JSON = 16 << 20;

interface LayoutFiles {
  read(rel: string): Promise<Buffer | undefined>;
  open(rel: string): Promise<Readable>;
}

/** Reads images from layout files wherever they are stored. */
class LayoutReader implements ImageSource {
  readonly description: string;
  protected readonly files: LayoutFiles;

  constructor(files: LayoutFiles, description: string) {
    this.files = files;
    this.description = description;
  }

  /** index.json as last read and parsed (a release layout's is read for every image resolved). */
  #indexMemo: { bytes: Buffer; index: ImageIndex } | undefined;

  /** The layout's top-level index (index.json); each caller gets its own `manifests` array. */
  async index(): Promise<ImageIndex> {
    const bytes = await this.files.read("index.json");
    if (!bytes)
      throw new BootforgeError("invalid-input", `${this.description} is not an OCI layout (no index.json)`);
    let memo = this.#indexMemo;
    if (memo === undefined || !memo.bytes.equals(bytes)) {
      const parsed = parseManifest(bytes, MediaTypes.ociIndex);
      if (parsed.kind !== "index")
        throw new BootforgeError("invalid-input", `${this.description}: index.json is not an index`);
      memo = { bytes, index: parsed.index };
      this.#indexMemo = memo;
    }
    return { ...memo.index, manifests: [...memo.index.manifests] };
  }

  /** Names of the images in the layout (their ref.name annotations). */
  async tags(): Promise<string[]> {
    return (await this.index()).manifests
      .map((d) => d.annotations?.[REF_NAME])
      .filter((n): n is string => n !== undefined);
  }

  /**
   * `ref` is a ref.name (exact, or the tag part of a full reference), a digest, or `""` when the
   * layout holds exactly one image.
   */
  async resolve(ref: string): Promise<Descriptor> {
    const { manifests } = await this.index();
    let hit: Descriptor | undefined;
    if (ref === "") {
      if (manifests.length !== 1) {
        throw new BootforgeError(
          "invalid-input",
          `${this.description} holds ${manifests.length} images; name one`,
        );
      }
      hit = manifests[0];
    } else if (isDigest(ref)) {
      hit = manifests.find((d) => d.digest === ref) ?? { mediaType: "", digest: ref, size: -1 };
    } else {
      hit =
        manifests.find((d) => d.annotations?.[REF_NAME] === ref) ??
        manifests.find((d) => {
          const name = d.annotations?.[REF_NAME] ?? "";
          return name.endsWith(`:${ref}`) || ref.endsWith(`:${name}`);
        });
    }
    if (!hit) throw notFoundRef(`${this.description}:${ref}`);
    if (hit.size < 0) {
      const data = await this.manifest(hit);
      return { mediaType: data.mediaType, digest: data.digest, size: data.bytes.length };
    }
    return hit;
  }

  async manifest(desc: Pick<Descriptor, "digest"> & Partial<Descriptor>): Promise<ManifestData> {
    const bytes = await this.files.read(blobPath(desc.digest));
    if (!bytes)
      throw new BootforgeError("not-found", `${this.description}: manifest ${desc.digest} is missing`);
    if (bytes.length > MAX_JSON)
      throw new BootforgeError("too-large", `${this.description}: manifest ${desc.digest} too large`);
    verifyBytes(bytes, desc.digest, `${this.description}: manifest ${desc.digest}`, "io");
    const mediaType = parseManifest(bytes, desc.mediaType).mediaType;
    return { bytes, mediaType, digest: desc.digest };
  }

  /** A small blob (config, signature payload) in one read, verified. */
  async smallBlob(desc: Pick<Descriptor, "digest" | "size">): Promise<Buffer> {
    const bytes = await this.files.read(blobPath(desc.digest));
    const what = `${this.description}: blob ${desc.digest}`;
    if (!bytes) throw new BootforgeError("not-found", `${what} is missing`);
    if (bytes.length !== desc.size)
      throw new BootforgeError("io", `${what} is ${bytes.length} bytes, expected ${desc.size}`);
    verifyBytes(bytes, desc.digest, what, "io");
    return bytes;
  }

  async blob(desc: Pick<Descriptor, "digest" | "size">): Promise<Readable> {
    const src = await this.files.open(blobPath(desc.digest));
    const v = new DigestVerifier(desc.digest, {
      size: desc.size,
      what: `${this.description}: blob ${desc.digest}`,
      kind: "io",
    });
    src.on("error", (e) => v.destroy(e));
    return src.pipe(v);
  }
}

/** `blobs/<alg>/<hex>` for a digest. */
export function blobPath(digest: string): string {
  parseDigest(digest);
  return `blobs/${digestAlgorithm(digest)}/${digestHex(digest)}`;
}

/** An OCI layout directory: read images from it and write images into it. */
export class OciLayout extends LayoutReader implements ImageSink {
  readonly dir: string;
  #indexLock: Promise<void> = Promise.resolve();

  private constructor(dir: string) {
    super(
      {
        read: async (rel) => {
          try {
            return await readFile(join(dir, rel));
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
            throw new BootforgeError("io", `${dir}: cannot read ${rel}: ${(e as Error).message}`);
          }
        },
        open: (rel) =>
          new Promise<Readable>((resolve, reject) => {
            const s = createReadStream(join(dir, rel));
            s.once("open", () => resolve(s));
            s.once("error", (e: NodeJS.ErrnoException) =>
              reject(
                new BootforgeError(
                  e.code === "ENOENT" ? "not-found" : "io",
                  `${dir}: cannot open ${rel}: ${e.code ?? e.message}`,
                ),
              ),
            );
          }),
      },
      dir,
    );
    this.dir = dir;
  }

  /** Opens an existing layout directory. */
  static async open(dir: string): Promise<OciLayout> {
    const marker = await readFile(join(dir, "oci-layout"), "utf8").catch(() => undefined);
    if (!marker)
      throw new BootforgeError("invalid-input", `${dir} is not an OCI image layout (no oci-layout file)`);
    return new OciLayout(dir);
  }

  /** Opens the layout at `dir`, creating an empty one if there is none. */
  static async create(dir: string): Promise<OciLayout> {
    await mkdir(dir, { recursive: true });
    const marker = await readFile(join(dir, "oci-layout"), "utf8").catch(() => undefined);
    if (!marker) {
      await atomicWrite(
        join(dir, "index.json"),
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] }),
      );
      await atomicWrite(join(dir, "oci-layout"), LAYOUT_FILE);
    }
    return new OciLayout(dir);
  }

  async hasBlob(desc: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    try {
      const s = await stat(join(this.dir, blobPath(desc.digest)));
      return s.isFile() && s.size === desc.size;
    } catch {
      return false;
    }
  }

  async putBlob(desc: Pick<Descriptor, "digest" | "size">, open: () => Promise<Readable>): Promise<void> {
    const final = join(this.dir, blobPath(desc.digest));
    await mkdir(join(this.dir, "blobs", digestAlgorithm(desc.digest)), { recursive: true });
    const tmp = `${final}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      const src = await open();
      await pipeline(
        src,
        new DigestVerifier(desc.digest, { size: desc.size, what: `blob ${desc.digest}` }),
        createWriteStream(tmp, { flags: "wx" }),
      );
      await rename(tmp, final);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e instanceof BootforgeError
        ? e
        : new BootforgeError(
            "io",
            `${this.dir}: writing blob ${desc.digest} failed: ${(e as Error).message}`,
            { cause: e },
          );
    }
  }

  async putManifest(data: ManifestData, opts: PutManifestOptions): Promise<void> {
    verifyBytes(data.bytes, data.digest, `manifest ${data.digest}`, "invalid-input");
    const path = join(this.dir, blobPath(data.digest));
    if (!(await this.hasBlob({ digest: data.digest, size: data.bytes.length }))) {
      await mkdir(join(this.dir, "blobs", digestAlgorithm(data.digest)), { recursive: true });
      await atomicWrite(path, data.bytes);
    }
    if (!opts.root) return;
    const desc: Descriptor = {
      mediaType: data.mediaType,
      digest: data.digest,
      size: data.bytes.length,
      ...(opts.tag ? { annotations: { [REF_NAME]: opts.tag } } : {}),
      ...(opts.platform ? { platform: opts.platform } : {}),
    };
    await this.#updateIndex((manifests) => {
      // A name points at one image: replace it; an unnamed image is listed once.
      const keep = manifests.filter((d) =>
        opts.tag
          ? d.annotations?.[REF_NAME] !== opts.tag
          : d.digest !== data.digest || d.annotations?.[REF_NAME] !== undefined,
      );
      return [...keep, desc];
    });
  }

  /** Removes the name `tag` from index.json (blobs stay; they may be shared). */
  async untag(tag: string): Promise<void> {
    await this.#updateIndex((m) => m.filter((d) => d.annotations?.[REF_NAME] !== tag));
  }

  async #updateIndex(fn: (m: Descriptor[]) => Descriptor[]): Promise<void> {
    // Serialise index.json updates within the process; each write is an atomic rename.
    const run = this.#indexLock.then(async () => {
      const index = await this.index();
      const next = {
        ...index,
        schemaVersion: 2,
        mediaType: MediaTypes.ociIndex,
        manifests: fn(index.manifests),
      };
      await atomicWrite(join(this.dir, "index.json"), JSON.stringify(next));
    });
    this.#indexLock = run.catch(() => undefined);
    await run;
  }
}

/** An OCI tar (an OCI layout packed in a tar, as `skopeo copy oci-archive:` writes) as a source. */
export class OciArchive extends LayoutReader {
  /** Opens the OCI tar at `path` (uncompressed). */
  static async open(path: string): Promise<OciArchive> {
    const idx = await TarIndex.open(path);
    if (!idx.get("index.json"))
      throw new BootforgeError("invalid-input", `${path} is not an OCI archive (no index.json)`);
    return new OciArchive(
      {
        read: async (rel) => (idx.get(rel) ? idx.read(rel, MAX_JSON) : undefined),
        open: (rel) => {
          if (!idx.get(rel))
            return Promise.reject(new BootforgeError("not-found", `${path}: missing ${rel}`));
          return Promise.resolve(idx.stream(rel));
        },
      },
      path,
    );
  }
}

/** Writes `bytes` to `path` via a temp file and rename, so readers never see a partial file. */
export async function atomicWrite(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    await writeFile(tmp, bytes, { flag: "wx" });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new BootforgeError("io", `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A Talos release as build inputs, for one version and architecture: files of the imager image
 * (`/usr/install/<arch>/…`, `/usr/lib/grub/…`), extension images (validated), overlay images and
 * the base installer, read from a registry namespace or an OCI layout directory, extracted once
 * per digest into a cache directory. The imager CLI and the factory both resolve inputs here.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, realpath, rename, rm } from "node:fs/promises";
import { join, relative, isAbsolute } from "node:path";
import { pipeline } from "node:stream/promises";
import { BootforgeError, invalidInput, isBootforgeError } from "../errors/index.js";
import { RegistryClient, type ClientOptions } from "../oci/client.js";
import { extractTar } from "../oci/extract.js";
import { resolveImage, type ResolvedImage } from "../oci/image.js";
import { OciLayout } from "../oci/layout.js";
import type { Platform } from "../oci/media-types.js";
import { formatReference, parseReference, referenceTarget, type Reference } from "../oci/reference.js";
import { RegistrySource } from "../oci/source.js";
import { layoutSignatures, registrySignatures } from "../oci/cosign/index.js";
import { checkCompatibility, loadExtension, type LoadedExtension } from "./extensions/manifest.js";
import type { ContainerAsset } from "../profile/model.js";
import { parseTalosVersion } from "../profile/version.js";
import { ExtractedImages } from "./extracted-images.js";
import type { SourceVerifier } from "./source-verifier.js";
import {
  DEFAULT_RELEASE_LOCATION,
  formatReleaseLocation,
  isReleaseRef,
  layoutRefName,
  releaseImageRef,
  rehome,
  type ReleaseLocation,
} from "./release-location.js";

/** Options of a {@link ReleaseSource}. */
export interface ReleaseSourceOptions {
  /** Talos version, e.g. `v1.11.0` (the imager image tag). */
  version: string;
  /** Target architecture (`amd64`, `arm64`): selects the platform of every image. */
  arch: string;
  /** Cache of extracted images (created if missing). */
  cacheDir: string;
  /** Registry namespace or OCI layout of the release (default `ghcr.io/siderolabs`). */
  location?: ReleaseLocation;
  /** Registry client options (credentials, timeouts, cancellation). */
  client?: Omit<ClientOptions, "insecure">;
  /** One client for every pull instead (the factory's, already configured for insecure hosts). */
  registryClient?: RegistryClient;
  /**
   * Signature check for every image resolved by reference (the factory's `containerSignature`);
   * without it nothing is verified (the imager CLI, as upstream's imager).
   */
  verifier?: SourceVerifier;
}

/** A release input image extracted to a directory. */
export interface ExtractedImage {
  /** What was asked for (reference, `oci:` path or tarball), for messages. */
  name: string;
  /** Manifest digest (or tarball sha256). */
  digest: string;
  /** The extracted filesystem; shared and read-only: copy before changing anything. */
  dir: string;
}

/** An extension image: extracted, manifest loaded and checked against the Talos version. */
export interface ExtensionInput extends ExtractedImage {
  extension: LoadedExtension;
}

// One extraction cache per directory in this process, so single flight spans every source.
const caches = new Map<string, ExtractedImages>();

/** Where a Talos release's images come from (one version, one architecture). */
export class ReleaseSource {
  readonly version: string;
  readonly arch: string;
  readonly location: ReleaseLocation;
  readonly #cacheDir: string;
  readonly #images: ExtractedImages;
  readonly #clientOptions: Omit<ClientOptions, "insecure">;
  readonly #clients = new Map<string, RegistryClient>();
  readonly #shared: RegistryClient | undefined;
  readonly #verifier: SourceVerifier | undefined;
  #layout: Promise<OciLayout> | undefined;
  #imager: Promise<ExtractedImage> | undefined;

  constructor(opts: ReleaseSourceOptions) {
    this.version = opts.version;
    this.arch = opts.arch;
    this.location = opts.location ?? DEFAULT_RELEASE_LOCATION;
    this.#cacheDir = opts.cacheDir;
    this.#clientOptions = opts.client ?? {};
    this.#shared = opts.registryClient;
    this.#verifier = opts.verifier;
    let images = caches.get(opts.cacheDir);
    if (!images) caches.set(opts.cacheDir, (images = new ExtractedImages(opts.cacheDir)));
    this.#images = images;
  }

  /** Human-readable description, e.g. `ghcr.io/siderolabs v1.11.0 amd64`. */
  get description(): string {
    return `${formatReleaseLocation(this.location)} ${this.version} ${this.arch}`;
  }

  get #platform(): Platform {
    return { os: "linux", architecture: this.arch };
  }

  /** The release's imager image (`<namespace>/imager:<version>`), extracted. */
  imager(): Promise<ExtractedImage> {
    this.#imager ??= this.#pull(releaseImageRef(this.location, "imager", this.version), false);
    // A failed pull must not poison later calls (e.g. a retry after the network is back).
    this.#imager.catch(() => (this.#imager = undefined));
    return this.#imager;
  }

  /**
   * A file or directory of the imager image by its absolute path inside the image
   * (`/usr/install/amd64/vmlinuz`, `/usr/lib/grub/i386-pc`); the host path of the cached copy.
   */
  async imagerPath(path: string): Promise<string> {
    if (!isAbsolute(path)) throw invalidInput(`imager path must be absolute: ${path}`);
    const { dir, name } = await this.imager();
    const host = join(dir, path);
    // Symlinks inside the image may not lead out of it.
    const real = await realpath(host).catch(() => undefined);
    if (real === undefined || relative(await realpath(dir), real).startsWith("..")) {
      throw new BootforgeError("not-found", `${path} not found in ${name}`);
    }
    return real;
  }

  /** Whether the imager image has `path` (e.g. a GRUB platform directory). */
  async hasImagerPath(path: string): Promise<boolean> {
    try {
      await this.imagerPath(path);
      return true;
    } catch (e) {
      if (isBootforgeError(e, "not-found")) return false;
      throw e;
    }
  }

  /** A container asset of the profile (imageRef, ociPath or tarballPath), extracted. */
  async containerAsset(asset: ContainerAsset): Promise<ExtractedImage> {
    if (asset.tarballPath) return this.#tarball(asset.tarballPath);
    if (asset.ociPath) {
      const layout = await OciLayout.open(asset.ociPath);
      const image = await this.#resolveIn(layout, "", `oci:${asset.ociPath}`, true);
      return {
        name: `oci:${asset.ociPath}`,
        digest: image.descriptor.digest,
        dir: await this.#images.extract(image),
      };
    }
    if (!asset.imageRef) throw invalidInput("container asset names no imageRef, ociPath or tarballPath");
    return this.#pull(parseReference(asset.imageRef), asset.forceInsecure === true, asset.imageRef);
  }

  /** A system extension image: extracted, shape and manifest validated, version constraint checked. */
  async extension(asset: ContainerAsset): Promise<ExtensionInput> {
    const label = asset.imageRef ?? (asset.ociPath ? `oci:${asset.ociPath}` : (asset.tarballPath ?? ""));
    try {
      const img = await this.containerAsset(asset);
      const extension = await loadExtension(img.dir);
      const v = parseTalosVersion(this.version);
      if (v !== undefined) checkCompatibility(extension.manifest, v);
      return { ...img, extension };
    } catch (e) {
      // Every refusal names the image, so a user with ten extensions knows which one to fix.
      if (isBootforgeError(e) && !e.message.includes(label))
        throw new BootforgeError(e.kind, `error loading extension ${label}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /**
   * Resolves a reference to one image of this architecture: the release's own images
   * (`ghcr.io/siderolabs/...`) from the release location, any other from its own registry.
   */
  async resolve(ref: Reference, insecure = false): Promise<ResolvedImage> {
    const name = formatReference(ref);
    if (this.location.kind === "oci-layout" && isReleaseRef(ref)) {
      const layout = await this.#openLayout();
      // Digest first (it pins the content), then the layout's `<repository>:<tag>` name.
      const target = ref.digest ?? layoutRefName(ref);
      if (target === undefined) throw invalidInput(`image reference ${name} has no tag or digest`);
      const image = await this.#resolveIn(layout, target, name);
      // The layout names images `<repository>:<tag>`; their signatures sit beside them.
      await this.#verifier?.verify(layoutSignatures(layout, ref.repository), image.root.digest, name);
      return image;
    }
    const r = rehome(ref, this.location);
    const hostInsecure =
      (this.location.kind === "registry" &&
        this.location.insecure === true &&
        r.registry === this.location.registry) ||
      insecure;
    const client = this.#client(hostInsecure ? r.registry : "");
    const image = await this.#resolveIn(
      new RegistrySource(client, r),
      referenceTarget(r),
      formatReference(r),
    );
    await this.#verifier?.verify(registrySignatures(client, r), image.root.digest, formatReference(r));
    return image;
  }

  async #pull(ref: Reference, insecure: boolean, asked = formatReference(ref)): Promise<ExtractedImage> {
    const image = await this.resolve(ref, insecure);
    return { name: asked, digest: image.descriptor.digest, dir: await this.#images.extract(image) };
  }

  async #resolveIn(
    source: Parameters<typeof resolveImage>[0],
    ref: string,
    name: string,
    anyPlatform = false,
  ): Promise<ResolvedImage> {
    try {
      return await resolveImage(source, ref, this.#platform);
    } catch (e) {
      if (anyPlatform && isBootforgeError(e, "invalid-input")) throw e;
      throw pullError(name, e);
    }
  }

  #client(insecureHost: string): RegistryClient {
    if (this.#shared) return this.#shared;
    let c = this.#clients.get(insecureHost);
    if (!c) {
      c = new RegistryClient({ ...this.#clientOptions, insecure: insecureHost ? [insecureHost] : false });
      this.#clients.set(insecureHost, c);
    }
    return c;
  }

  #openLayout(): Promise<OciLayout> {
    if (this.location.kind !== "oci-layout") throw new Error("not a layout location");
    this.#layout ??= OciLayout.open(this.location.dir);
    return this.#layout;
  }

  async #tarball(path: string): Promise<ExtractedImage> {
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isFile()) throw invalidInput(`tarball ${path} not found`);
    const h = createHash("sha256");
    await pipeline(createReadStream(path), h);
    const digest = `sha256:${h.digest("hex")}`;
    const dir = join(this.#cacheDir, "tarballs", digest.replace(":", "-"));
    if (!(await lstat(dir).catch(() => undefined))?.isDirectory()) {
      const tmp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
      await mkdir(tmp, { recursive: true });
      try {
        await extractTar(createReadStream(path), tmp, { skipSpecial: true });
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
      await rename(tmp, dir).catch(async () => rm(tmp, { recursive: true, force: true }));
    }
    return { name: path, digest, dir };
  }
}

/** A failed pull as upstream reports it: dependency (exit 5) unless the input itself is bad. */
function pullError(name: string, e: unknown): BootforgeError {
  if (isBootforgeError(e)) {
    const kind = e.kind === "invalid-input" ? "invalid-input" : "dependency";
    return new BootforgeError(kind, `error pulling ${name}: ${e.message}`, { cause: e });
  }
  return new BootforgeError("dependency", `error pulling ${name}: ${(e as Error).message}`, { cause: e });
}

/**
 * The two sides of every image move: an `ImageSource` (registry repository, OCI layout dir,
 * OCI tar, docker-archive) and an `ImageSink` (registry repository, OCI layout dir). The imager
 * and the factory read releases through `ImageSource` without caring where they live.
 */
import type { Readable } from "node:stream";
import { BootforgeError } from "../errors/index.js";
import type { BlobBody, ManifestData, RegistryClient } from "./client.js";
import { isDigest } from "./digest.js";
import type { Descriptor, Platform } from "./media-types.js";
import { formatReference, type Reference } from "./reference.js";

/** Where images are read from. All returned bytes and streams are digest-verified. */
export interface ImageSource {
  /** Human-readable location for messages (never contains credentials). */
  readonly description: string;
  /** The descriptor of the manifest or index a tag or digest names (`""` = the only image). */
  resolve(ref: string): Promise<Descriptor>;
  /** A manifest or index by digest. */
  manifest(desc: Pick<Descriptor, "digest"> & Partial<Descriptor>): Promise<ManifestData>;
  /** A blob as a verified stream (size and digest checked at the end). */
  blob(desc: Pick<Descriptor, "digest" | "size">): Promise<Readable>;
  /** A small blob, whole and verified, where the source can do it in one read (local layouts). */
  smallBlob?(desc: Pick<Descriptor, "digest" | "size">): Promise<Buffer>;
}

/** Options for writing a manifest into a sink. */
export interface PutManifestOptions {
  /** Tag (registry) or `org.opencontainers.image.ref.name` (layout) for a root manifest. */
  tag?: string;
  /** True for the manifest or index the caller asked to write (layouts list it in index.json). */
  root: boolean;
  /** Platform to record next to a root manifest in a layout's index.json. */
  platform?: Platform;
}

/** Where images are written. Blobs are verified while written; nothing half-written is visible. */
export interface ImageSink {
  /** Human-readable location for messages. */
  readonly description: string;
  /** True when the blob is already present (so copies skip it). */
  hasBlob(desc: Pick<Descriptor, "digest" | "size">): Promise<boolean>;
  /** Writes a blob from a (re)openable stream. */
  putBlob(desc: Pick<Descriptor, "digest" | "size">, open: () => Promise<Readable>): Promise<void>;
  /** Writes a manifest or index. */
  putManifest(data: ManifestData, opts: PutManifestOptions): Promise<void>;
}

/** A registry repository as an image source. */
export class RegistrySource implements ImageSource {
  readonly description: string;
  readonly #client: RegistryClient;
  readonly #repo: Reference;

  constructor(client: RegistryClient, repo: Reference) {
    this.#client = client;
    this.#repo = { registry: repo.registry, repository: repo.repository };
    this.description = `${repo.registry}/${repo.repository}`;
  }

  async resolve(ref: string): Promise<Descriptor> {
    const r = this.#at(ref || "latest");
    const d = await this.#client.headManifest(r);
    if (!d) throw notFoundRef(formatReference(r));
    return d;
  }

  async manifest(desc: Pick<Descriptor, "digest"> & Partial<Descriptor>): Promise<ManifestData> {
    return this.#client.getManifest({ ...this.#repo, digest: desc.digest });
  }

  async blob(desc: Pick<Descriptor, "digest" | "size">): Promise<Readable> {
    return this.#client.blob(this.#repo, desc);
  }

  /** Tags of the repository. */
  tags(): Promise<string[]> {
    return this.#client.listTags(this.#repo);
  }

  #at(ref: string): Reference {
    return isDigest(ref) ? { ...this.#repo, digest: ref } : { ...this.#repo, tag: ref };
  }
}

/** A registry repository as an image sink (blobs mounted from `mountFrom` when possible). */
export class RegistrySink implements ImageSink {
  readonly description: string;
  readonly #client: RegistryClient;
  readonly #repo: Reference;
  readonly #mountFrom: string | undefined;

  constructor(client: RegistryClient, repo: Reference, opts: { mountFrom?: string } = {}) {
    this.#client = client;
    this.#repo = { registry: repo.registry, repository: repo.repository };
    this.#mountFrom = opts.mountFrom;
    this.description = `${repo.registry}/${repo.repository}`;
  }

  async hasBlob(desc: Pick<Descriptor, "digest" | "size">): Promise<boolean> {
    return (await this.#client.headBlob(this.#repo, desc.digest)) !== undefined;
  }

  async putBlob(desc: Pick<Descriptor, "digest" | "size">, open: () => Promise<Readable>): Promise<void> {
    const body: BlobBody = { size: desc.size, open };
    await this.#client.pushBlob(
      this.#repo,
      desc.digest,
      body,
      this.#mountFrom ? { mountFrom: this.#mountFrom } : {},
    );
  }

  async putManifest(data: ManifestData, opts: PutManifestOptions): Promise<void> {
    const ref: Reference =
      opts.root && opts.tag ? { ...this.#repo, tag: opts.tag } : { ...this.#repo, digest: data.digest };
    await this.#client.putManifest(ref, data.bytes, data.mediaType);
  }
}

/** The not-found error for a reference missing from a source. */
export function notFoundRef(what: string): BootforgeError {
  return new BootforgeError("not-found", `image ${what} not found`);
}

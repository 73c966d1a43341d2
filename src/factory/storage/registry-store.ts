/**
 * The scale-out storage backend: an OCI registry shared by any number of factory replicas.
 * Schematics are blobs whose digest is `sha256:<id>` (content = canonical YAML), kept alive by
 * a manifest tagged `<id>` in `<namespace>/schematics`, as upstream stores them. Assets are
 * single-layer artifacts tagged `<key>` in `<namespace>/cache`; the layer is the asset's bytes.
 * A tag is pushed only after its blob, so a replica never sees a partial asset. With a signing
 * key (upstream `cache.signingKeyPath`) every asset manifest gets a cosign signature
 * (`sha256-<hex>.sig`) and is re-verified on every read: an entry whose signature does not
 * verify is a cache miss (rebuilt and re-signed), so rotating the key invalidates the cache.
 * An asset's SHA-256 is its layer digest; its SHA-512 is recorded in the manifest annotation
 * {@link SHA512_ANNOTATION} (covered by the manifest digest, hence by the signature).
 */
import { createReadStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { PassThrough, Readable, Transform, type TransformCallback } from "node:stream";
import { BootforgeError } from "../../errors/index.js";
import type { RegistryClient } from "../../oci/client.js";
import {
  checkLegacySignature,
  registrySignatures,
  writeSignature,
  type SigningKey,
} from "../../oci/cosign/index.js";
import { RegistrySink } from "../../oci/source.js";
import { sha256Of } from "../../oci/digest.js";
import { parseManifest, type Descriptor } from "../../oci/media-types.js";
import type { Reference } from "../../oci/reference.js";
import { digestStream, type AssetDigests } from "./asset-digests.js";
import type { LocalStore } from "./local-store.js";
import type { AssetStore, SchematicStore, StoredObject } from "./types.js";

/** Media types of what Bootforge stores in the registry. */
export const STORE_MEDIA_TYPES = {
  schematic: "application/vnd.sidero.dev-image.schematic",
  asset: "application/vnd.bootforge.asset.v1",
  config: "application/vnd.oci.image.config.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
} as const;

/** Manifest annotation holding the asset's SHA-512 (hex). */
export const SHA512_ANNOTATION = "dev.bootforge.asset.sha512";

const KEY = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const SHA512 = /^[0-9a-f]{128}$/;
const EMPTY_CONFIG = Buffer.from("{}");

/** Options of {@link RegistryStore}. */
export interface RegistryStoreOptions {
  client: RegistryClient;
  /** `host[:port]`. */
  registry: string;
  /** Repository prefix: schematics in `<namespace>/schematics`, assets in `<namespace>/cache`. */
  namespace: string;
  /** Local store for temporary files of uploads. */
  scratch: LocalStore;
  /** Signs asset entries and requires the signature on read. */
  signingKey?: SigningKey;
}

/** Passes bytes `[start, end]` of a stream through and drops the rest. */
class Slice extends Transform {
  #pos = 0;
  readonly #first: number;
  readonly #last: number;
  constructor(first: number, last: number) {
    super();
    this.#first = first;
    this.#last = last;
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const from = Math.max(0, this.#first - this.#pos);
    const to = Math.min(chunk.length, this.#last + 1 - this.#pos);
    if (to > from) this.push(chunk.subarray(from, to));
    this.#pos += chunk.length;
    cb();
  }
}

/** Assets and schematics in an OCI registry. */
export class RegistryStore implements AssetStore {
  readonly #o: RegistryStoreOptions;

  constructor(opts: RegistryStoreOptions) {
    this.#o = opts;
  }

  #repo(name: string): Reference {
    const ns = this.#o.namespace.replace(/^\/+|\/+$/g, "");
    return { registry: this.#o.registry, repository: ns === "" ? name : `${ns}/${name}` };
  }

  async #pushArtifact(
    repo: Reference,
    tag: string,
    layer: Descriptor,
    openLayer: () => Readable,
    beforeTag?: (digest: string) => Promise<unknown>,
    annotations?: Record<string, string>,
  ): Promise<void> {
    const c = this.#o.client;
    await c.pushBlob(repo, layer.digest, { size: layer.size, open: openLayer });
    const config: Descriptor = {
      mediaType: STORE_MEDIA_TYPES.config,
      digest: sha256Of(EMPTY_CONFIG),
      size: EMPTY_CONFIG.length,
    };
    await c.pushBlob(repo, config.digest, { size: config.size, open: () => Readable.from([EMPTY_CONFIG]) });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: STORE_MEDIA_TYPES.manifest,
        config,
        layers: [layer],
        ...(annotations === undefined ? {} : { annotations }),
      }),
    );
    if (beforeTag !== undefined) {
      // Pushed by digest first so the signature exists before the tag makes the entry visible.
      const digest = await c.putManifest(repo, manifest, STORE_MEDIA_TYPES.manifest);
      await beforeTag(digest);
    }
    await c.putManifest({ ...repo, tag }, manifest, STORE_MEDIA_TYPES.manifest);
  }

  async #layer(
    repo: Reference,
    tag: string,
  ): Promise<{ layer: Descriptor; digest: string; annotations: Record<string, string> } | undefined> {
    const c = this.#o.client;
    if ((await c.headManifest({ ...repo, tag })) === undefined) return undefined;
    const m = await c.getManifest({ ...repo, tag });
    const parsed = parseManifest(m.bytes, m.mediaType);
    if (parsed.kind !== "manifest" || parsed.manifest.layers.length !== 1) {
      throw new BootforgeError("io", `storage: ${repo.repository}:${tag} is not a single-layer artifact`);
    }
    return {
      layer: parsed.manifest.layers[0]!,
      digest: m.digest,
      annotations: parsed.manifest.annotations ?? {},
    };
  }

  /** The docker-reference signatures of `repo` claim. */
  #identity(repo: Reference): string {
    return `${repo.registry}/${repo.repository}`;
  }

  /** Asset by key; schematics go through {@link schematicStore}. */
  async get(key: string): Promise<StoredObject | undefined> {
    if (!KEY.test(key))
      throw new BootforgeError("invalid-input", `invalid storage key ${JSON.stringify(key)}`);
    const repo = this.#repo("cache");
    const found = await this.#layer(repo, key);
    if (found === undefined) return undefined;
    const c = this.#o.client;
    const signing = this.#o.signingKey;
    if (signing !== undefined) {
      const check = await checkLegacySignature(registrySignatures(c, repo), found.digest, [
        signing.publicKey,
      ]);
      if (!check.ok) return undefined;
    }
    const layer = found.layer;
    const sha256 = layer.digest.slice("sha256:".length);
    const sha512 = found.annotations[SHA512_ANNOTATION];
    const open = (range?: { start: number; end: number }): Readable => {
      const out = new PassThrough();
      c.blob(repo, layer).then(
        (s) => {
          s.on("error", (e) => out.destroy(e));
          if (range === undefined) s.pipe(out);
          else s.pipe(new Slice(range.start, range.end)).pipe(out);
        },
        (e: unknown) => out.destroy(e as Error),
      );
      return out;
    };
    return {
      key,
      size: layer.size,
      etag: `"${sha256}"`,
      // An entry pushed before SHA-512s were recorded is hashed from the registry on request.
      digests: (): Promise<AssetDigests> =>
        sha512 !== undefined && SHA512.test(sha512)
          ? Promise.resolve({ sha256, sha512 })
          : digestStream(open()),
      open,
    };
  }

  async put(key: string, produce: (tmpPath: string) => Promise<void>): Promise<StoredObject> {
    if (!KEY.test(key))
      throw new BootforgeError("invalid-input", `invalid storage key ${JSON.stringify(key)}`);
    const tmp = this.#o.scratch.tempPath(key);
    try {
      await produce(tmp);
      const size = (await stat(tmp)).size;
      const digests = await digestStream(createReadStream(tmp));
      const layer: Descriptor = {
        mediaType: STORE_MEDIA_TYPES.asset,
        digest: `sha256:${digests.sha256}`,
        size,
      };
      const repo = this.#repo("cache");
      const signing = this.#o.signingKey;
      await this.#pushArtifact(
        repo,
        key,
        layer,
        () => createReadStream(tmp),
        signing === undefined
          ? undefined
          : (digest) =>
              writeSignature(new RegistrySink(this.#o.client, repo), signing, this.#identity(repo), digest),
        { [SHA512_ANNOTATION]: digests.sha512 },
      );
    } finally {
      await rm(tmp, { force: true });
    }
    const obj = await this.get(key);
    if (obj === undefined)
      throw new BootforgeError("io", `storage: ${key} is missing right after it was pushed`);
    return obj;
  }

  /** The schematic store view of this registry. */
  schematicStore(): SchematicStore {
    return {
      get: async (id) => {
        const repo = this.#repo("schematics");
        const size = await this.#o.client.headBlob(repo, `sha256:${id}`);
        if (size === undefined) return undefined;
        const chunks: Buffer[] = [];
        for await (const c of await this.#o.client.blob(repo, { digest: `sha256:${id}`, size }))
          chunks.push(c as Buffer);
        return Buffer.concat(chunks).toString("utf8");
      },
      put: async (id, canonical) => {
        const bytes = Buffer.from(canonical);
        const digest = sha256Of(bytes);
        if (digest !== `sha256:${id}`)
          throw new BootforgeError("internal", `schematic ${id} does not hash to its ID`);
        const layer: Descriptor = { mediaType: STORE_MEDIA_TYPES.schematic, digest, size: bytes.length };
        // The tag keeps the blob referenced, so registry garbage collection never drops it.
        await this.#pushArtifact(this.#repo("schematics"), id, layer, () => Readable.from([bytes]));
      },
    };
  }
}

/**
 * The embedded installer registry: per-schematic installer images (`<image>/<id>:<version>`)
 * assembled from the imager's docker-archive installer assets for amd64 and arm64 into one
 * OCI index, stored in an OCI layout directory Bootforge owns. The per-arch archives are
 * ordinary cached assets, so replicas sharing an asset store share the expensive part.
 * With a signing key each index is cosign-signed (`<image>/<id>:sha256-<hex>.sig`, served by
 * the `/v2` front end) and its signature re-verified whenever the index is looked up: one that
 * does not verify (e.g. after a key change) is rebuilt and re-signed, as upstream does.
 */
import { createReadStream } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { BootforgeError } from "../../errors/index.js";
import { isDigest, sha256Of } from "../../oci/digest.js";
import { DockerArchive } from "../../oci/docker-archive.js";
import { copyImage } from "../../oci/image.js";
import {
  checkLegacySignature,
  layoutSignatures,
  signatureTag,
  writeSignature,
  type SigningKey,
} from "../../oci/cosign/index.js";
import { blobPath, OciLayout } from "../../oci/layout.js";
import type { ManifestData } from "../../oci/client.js";
import { MediaTypes, type Descriptor } from "../../oci/media-types.js";
import type { ServedVersion } from "../../release/versions.js";
import type { AssetBuilder } from "../assets/asset-builder.js";
import { assetRequest } from "../assets/request.js";
import type { StoredSchematic } from "../schematic-service.js";
import { SingleFlight } from "../single-flight.js";
import type { StoredObject } from "../storage/types.js";

const ARCHES = ["amd64", "arm64"] as const;

/** Signing of published indexes. */
export interface InstallerSigning {
  key: SigningKey;
  /** The docker-reference a signature of `<image>/<id>` claims (`<factory host>/<image>/<id>`). */
  identity(repo: string): string;
}

/** A blob ready to serve. */
export interface BlobHandle {
  size: number;
  open(): Readable;
}

/** Builds, stores and serves installer images. */
export class InstallerRegistry {
  readonly #layout: OciLayout;
  readonly #assets: AssetBuilder;
  readonly #tmp: (hint: string) => Promise<{ path: string; done: () => Promise<void> }>;
  readonly #flight = new SingleFlight<Descriptor>();
  readonly #signing: InstallerSigning | undefined;

  private constructor(
    layout: OciLayout,
    assets: AssetBuilder,
    tmp: (hint: string) => Promise<{ path: string; done: () => Promise<void> }>,
    signing: InstallerSigning | undefined,
  ) {
    this.#layout = layout;
    this.#assets = assets;
    this.#tmp = tmp;
    this.#signing = signing;
  }

  /**
   * Opens (creating) the registry's layout. `localCopy` gives a local file for a stored asset
   * that has no path (registry-backed stores).
   */
  static async open(
    dir: string,
    assets: AssetBuilder,
    tmp: (hint: string) => Promise<{ path: string; done: () => Promise<void> }>,
    signing?: InstallerSigning,
  ): Promise<InstallerRegistry> {
    const layout = await OciLayout.create(dir);
    await sweepPartialWrites(dir);
    return new InstallerRegistry(layout, assets, tmp, signing);
  }

  /** The index of `<image>/<id>:<version>`, building both architectures on first use. */
  async ensure(
    image: string,
    stored: StoredSchematic,
    version: ServedVersion,
    platform: string,
    secureboot: boolean,
  ): Promise<Descriptor> {
    const repo = `${image}/${stored.id}`;
    const tag = `${repo}:${version.tag}`;
    const existing = await this.#findSigned(repo, tag);
    if (existing !== undefined) return existing;
    return this.#flight.do(tag, async () => {
      const again = await this.#findSigned(repo, tag);
      if (again !== undefined) return again;
      const manifests: Descriptor[] = [];
      for (const arch of ARCHES) {
        const name = `${platform}-installer-${arch}${secureboot ? "-secureboot" : ""}.tar`;
        const obj = await this.#assets.get(assetRequest(stored, version, name));
        const desc = await this.#importArchive(obj, `${platform}-${arch}`);
        manifests.push({
          mediaType: desc.mediaType,
          digest: desc.digest,
          size: desc.size,
          platform: { os: "linux", architecture: arch },
        });
      }
      const bytes = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }),
      );
      const data: ManifestData = { bytes, mediaType: MediaTypes.ociIndex, digest: sha256Of(bytes) };
      // Signed before tagged: a client that sees the tag also finds the signature.
      const signing = this.#signing;
      if (signing !== undefined) {
        await this.#layout.putManifest(data, { root: false });
        // Each platform's manifest too (cosign's --recursive): containers/image checks the
        // signature of the instance it copies, cosign and upstream the index's.
        for (const d of [...manifests.map((m) => m.digest), data.digest]) {
          await writeSignature(
            this.#layout,
            signing.key,
            signing.identity(repo),
            d,
            `${repo}:${signatureTag(d)}`,
          );
        }
      }
      await this.#layout.putManifest(data, { root: true, tag });
      return { mediaType: data.mediaType, digest: data.digest, size: bytes.length };
    });
  }

  async #importArchive(obj: StoredObject, hint: string): Promise<Descriptor> {
    if (obj.path !== undefined) return copyImage(await DockerArchive.open(obj.path), "", this.#layout);
    const t = await this.#tmp(hint);
    try {
      const { pipeline } = await import("node:stream/promises");
      const { createWriteStream } = await import("node:fs");
      await pipeline(obj.open(), createWriteStream(t.path));
      return await copyImage(await DockerArchive.open(t.path), "", this.#layout);
    } finally {
      await t.done();
    }
  }

  /** The tagged index, if present and (with signing on) validly signed by the current key. */
  async #findSigned(repo: string, tag: string): Promise<Descriptor | undefined> {
    const found = await this.#find(tag);
    const signing = this.#signing;
    if (found === undefined || signing === undefined) return found;
    const check = await checkLegacySignature(layoutSignatures(this.#layout, repo), found.digest, [
      signing.key.publicKey,
    ]);
    return check.ok ? found : undefined;
  }

  async #find(tag: string): Promise<Descriptor | undefined> {
    const hit = (await this.#layout.index()).manifests.find(
      (d) => d.annotations?.["org.opencontainers.image.ref.name"] === tag,
    );
    return hit;
  }

  /** A stored manifest by digest, or by the tag of this image/schematic; undefined when absent. */
  async manifest(repo: string, ref: string): Promise<ManifestData | undefined> {
    let desc: Pick<Descriptor, "digest"> | undefined;
    if (isDigest(ref)) desc = { digest: ref };
    else desc = await this.#find(`${repo}:${ref}`);
    if (desc === undefined) return undefined;
    try {
      return await this.#layout.manifest(desc);
    } catch (e) {
      if (e instanceof BootforgeError && e.kind === "not-found") return undefined;
      throw e;
    }
  }

  /** A stored blob by digest, or undefined. */
  async blob(digest: string): Promise<BlobHandle | undefined> {
    if (!isDigest(digest)) return undefined;
    const file = join(this.#layout.dir, blobPath(digest));
    const st = await stat(file).catch(() => undefined);
    if (st === undefined || !st.isFile()) return undefined;
    return { size: st.size, open: () => createReadStream(file) };
  }
}

/**
 * Removes what a killed factory was writing: blobs and index files are written to
 * `<name>.tmp-<random>` and renamed into place, so such a name is never a finished object.
 * The layout belongs to this factory alone (as the asset store's tmp/ does), so none is in use.
 */
async function sweepPartialWrites(dir: string): Promise<void> {
  const partial = (name: string) => name.includes(".tmp-");
  for (const name of await readdir(dir)) if (partial(name)) await rm(join(dir, name), { force: true });
  for (const alg of await readdir(join(dir, "blobs")).catch(() => [] as string[])) {
    const d = join(dir, "blobs", alg);
    for (const name of await readdir(d).catch(() => [] as string[]))
      if (partial(name)) await rm(join(d, name), { force: true });
  }
}

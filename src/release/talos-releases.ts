/**
 * Every Talos release at one location (a registry namespace or an OCI layout directory), as the
 * factory needs it: served versions from the imager image's tags, the extensions and overlays
 * catalogs of a version, boot files, repositories for the image proxy, and the per-version,
 * per-architecture {@link ReleaseSource} the imager pipeline builds from (extension and overlay
 * images pulled by catalog digest). Catalogs are cached in memory, images extracted once on disk.
 */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { BootforgeError, isBootforgeError } from "../errors/index.js";
import type { RegistryClient } from "../oci/client.js";
import { flattenImage } from "../oci/flatten.js";
import { formatReference } from "../oci/reference.js";
import { OciLayout } from "../oci/layout.js";
import { atLeast } from "../profile/version.js";
import { parseExtensionsCatalog, parseOverlaysCatalog } from "./catalogs.js";
import type { ExtensionEntry, OverlayEntry } from "./catalogs.js";
import { releaseImageRef, type ReleaseLocation } from "./release-location.js";
import { layoutRepo, registryRepo, type RepoAccess } from "./release-repos.js";
import { ReleaseSource } from "./release-source.js";
import type { SourceVerifier } from "./source-verifier.js";
import {
  brokenVersions,
  findServed,
  servedVersions,
  type ServedVersion,
  type VersionPolicy,
} from "./versions.js";

/** Boot files of one version and architecture, as local paths (read-only, shared). */
export interface BootFiles {
  vmlinuz: string;
  initramfs: string;
  /** Absent before Talos 1.5 (no UKI inputs). */
  systemdStub?: string;
  systemdBoot?: string;
  /** Digest of the imager image they came from: part of every asset key. */
  imagerDigest: string;
}

/** Options of {@link TalosReleases}. */
export interface TalosReleasesOptions {
  location: ReleaseLocation;
  policy: VersionPolicy;
  /** Cache of extracted images (shared with the imager CLI's cache layout). */
  cacheDir: string;
  /**
   * Registry and pull namespace catalog entries are re-homed to (upstream `artifacts.core`):
   * `ref` shows `<registry>/<name>:<tag>`, pulls use `<registry>/<namespace>/<name>`.
   */
  catalog?: { registry: string; namespace: string };
  /** Client for a registry location (configured for insecure hosts by the caller). */
  registryClient?: RegistryClient;
  /** How long the version list is reused before the imager tags are listed again. */
  versionsTtlMs?: number;
  /** Signature check of every release image before use (upstream `containerSignature`). */
  verifier?: SourceVerifier;
}

const MAX_CATALOG_FILE = 4 << 20;
// Catalog images are read for amd64, as upstream does (they are architecture-independent).
const CATALOG_ARCH = "amd64";

/** Talos releases at one location; every lookup is cached and concurrent callers share it. */
export class TalosReleases {
  readonly location: ReleaseLocation;
  readonly #o: TalosReleasesOptions;
  #tags: { at: number; tags: Promise<string[]> } | undefined;
  readonly #memo = new Map<string, Promise<unknown>>();
  readonly #sources = new Map<string, ReleaseSource>();
  #layout: Promise<OciLayout> | undefined;

  constructor(opts: TalosReleasesOptions) {
    this.#o = opts;
    this.location = opts.location;
  }

  /** A repository of the release by upstream path (`siderolabs/imager`). */
  async repo(path: string): Promise<RepoAccess> {
    const loc = this.location;
    if (loc.kind === "oci-layout") {
      this.#layout ??= OciLayout.open(loc.dir);
      this.#layout.catch(() => (this.#layout = undefined));
      return layoutRepo(await this.#layout, path);
    }
    const client = this.#o.registryClient;
    if (client === undefined)
      throw new BootforgeError("internal", "a registry release needs a registry client");
    return registryRepo(client, loc, path);
  }

  /** The imager pipeline's inputs for one served version and architecture. */
  source(version: ServedVersion | string, arch: string): ReleaseSource {
    const tag = typeof version === "string" ? version : version.tag;
    const key = `${tag}/${arch}`;
    let s = this.#sources.get(key);
    if (s === undefined) {
      s = new ReleaseSource({
        version: tag,
        arch,
        cacheDir: this.#o.cacheDir,
        location: this.location,
        ...(this.#o.registryClient ? { registryClient: this.#o.registryClient } : {}),
        ...(this.#o.verifier ? { verifier: this.#o.verifier } : {}),
      });
      this.#sources.set(key, s);
    }
    return s;
  }

  async #imagerTags(): Promise<string[]> {
    const ttl = this.#o.versionsTtlMs ?? 15 * 60_000;
    if (this.#tags === undefined || Date.now() - this.#tags.at > ttl) {
      const tags = this.repo("siderolabs/imager").then((r) => r.tags());
      this.#tags = { at: Date.now(), tags };
      // A failed listing must not be cached.
      tags.catch(() => (this.#tags = undefined));
    }
    return this.#tags.tags;
  }

  /** Served versions, ascending. */
  async versions(): Promise<ServedVersion[]> {
    return servedVersions(await this.#imagerTags(), this.#o.policy);
  }

  /** Configured broken versions that exist. */
  async brokenVersions(): Promise<ServedVersion[]> {
    return brokenVersions(await this.#imagerTags(), this.#o.policy);
  }

  /** A served version by text (`1.11.0` or `v1.11.0`); 404 `version X is not available` otherwise. */
  async version(text: string): Promise<ServedVersion> {
    const v = findServed(await this.versions(), text);
    if (v === undefined) {
      throw new BootforgeError("not-found", `version ${text.replace(/^v/, "")} is not available`);
    }
    return v;
  }

  /** The official extensions catalog of a served version (catalog order). */
  async extensions(version: ServedVersion): Promise<ExtensionEntry[]> {
    return this.#cached(`ext:${version.tag}`, async () => {
      const files = await this.#readFiles("extensions", version.tag, ["image-digests", "descriptions.yaml"]);
      const digests = files.get("image-digests");
      if (digests === undefined)
        throw new BootforgeError("dependency", `extensions:${version.tag} has no image-digests file`);
      const cat = this.#o.catalog ?? { registry: "ghcr.io", namespace: "" };
      return parseExtensionsCatalog(digests, files.get("descriptions.yaml"), cat.registry, cat.namespace);
    });
  }

  /** The official overlays catalog; `[]` before 1.7 without reading anything (as upstream). */
  async overlays(version: ServedVersion): Promise<OverlayEntry[]> {
    if (!atLeast(version.version, 1, 7)) return [];
    return this.#cached(`ovl:${version.tag}`, async () => {
      const files = await this.#readFiles("overlays", version.tag, ["overlays.yaml"]);
      const text = files.get("overlays.yaml");
      if (text === undefined)
        throw new BootforgeError("dependency", `overlays:${version.tag} has no overlays.yaml file`);
      return parseOverlaysCatalog(text);
    });
  }

  /**
   * The extracted root of the version's `talosctl-all` image (read for amd64, as upstream does),
   * or a 404 `version X is not available` when the release has no such image (upstream's answer).
   */
  async talosctlDir(version: ServedVersion): Promise<string> {
    return this.#cached(`talosctl:${version.tag}`, async () => {
      const repo = await this.repo("siderolabs/talosctl-all");
      try {
        await repo.source.resolve(repo.refFor(version.tag));
      } catch (e) {
        if (isBootforgeError(e, "not-found"))
          throw new BootforgeError("not-found", `version ${version.tag.slice(1)} is not available`);
        throw e;
      }
      const ref = releaseImageRef(this.location, "talosctl-all", version.tag);
      return (await this.source(version, CATALOG_ARCH).containerAsset({ imageRef: formatReference(ref) }))
        .dir;
    });
  }

  /** The imager image's boot files for a version and architecture (extracted once). */
  async bootFiles(version: ServedVersion, arch: "amd64" | "arm64"): Promise<BootFiles> {
    const src = this.source(version, arch);
    const img = await src.imager();
    const at = (f: string) => src.imagerPath(`/usr/install/${arch}/${f}`);
    const opt = (f: string) => at(f).catch(() => undefined);
    const [vmlinuz, initramfs, systemdStub, systemdBoot] = await Promise.all([
      at("vmlinuz"),
      at("initramfs.xz"),
      opt("systemd-stub.efi"),
      opt("systemd-boot.efi"),
    ]);
    return {
      vmlinuz,
      initramfs,
      ...(systemdStub ? { systemdStub } : {}),
      ...(systemdBoot ? { systemdBoot } : {}),
      imagerDigest: img.digest,
    };
  }

  /** The imager image digest of a version and architecture (an asset cache key input). */
  async imagerDigest(version: ServedVersion, arch: string): Promise<string> {
    return this.#cached(`imager:${version.tag}/${arch}`, async () => {
      const s = this.source(version, arch);
      return (await s.resolve(releaseImageRef(this.location, "imager", version.tag))).descriptor.digest;
    });
  }

  async #readFiles(name: string, tag: string, names: readonly string[]): Promise<Map<string, string>> {
    const img = await this.source(tag, CATALOG_ARCH).resolve(releaseImageRef(this.location, name, tag));
    return readSmallFiles(flattenImage(img), names);
  }

  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.#memo.get(key) as Promise<T> | undefined;
    if (p === undefined) {
      p = load();
      this.#memo.set(key, p);
      // Failures are retried on the next request instead of being remembered forever.
      p.catch(() => this.#memo.delete(key));
    }
    return p;
  }
}

function entryName(name: string): string {
  return name.replace(/^\.?\/+/, "");
}

/** Collects the named regular files of a tar stream into memory (bounded). */
async function readSmallFiles(stream: Readable, names: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    const name = entryName(header.name);
    if (header.type !== "file" || !names.includes(name)) {
      body.on("end", next).resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    body.on("data", (data: unknown) => {
      const chunk = data as Buffer;
      size += chunk.length;
      if (size > MAX_CATALOG_FILE) {
        extract.destroy(
          new BootforgeError("too-large", `catalog file ${name} exceeds ${MAX_CATALOG_FILE} bytes`),
        );
        return;
      }
      chunks.push(chunk);
    });
    body.on("end", () => {
      out.set(name, Buffer.concat(chunks).toString("utf8"));
      next();
    });
  });
  await pipeline(stream, extract);
  return out;
}

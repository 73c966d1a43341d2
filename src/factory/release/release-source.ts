/**
 * The factory's view of Talos releases: served versions (imager tags), the extensions and
 * overlays catalogs, and the boot files of a version (kernel, initramfs, systemd stubs), read
 * from an OCI layout directory (the embedded demo) or a registry namespace — the same code,
 * behind `RepoAccess`. Everything read is cached: catalogs in memory, boot files on disk.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import tar from "tar-stream";
import { BootforgeError } from "../../errors/index.js";
import { flattenImage } from "../../oci/flatten.js";
import { resolveImage } from "../../oci/image.js";
import type { ImageSource } from "../../oci/source.js";
import { parseExtensionsCatalog, parseOverlaysCatalog } from "../../release/catalogs.js";
import type { ExtensionEntry, OverlayEntry } from "../../release/catalogs.js";
import {
  brokenVersions,
  findServed,
  servedVersions,
  type ServedVersion,
  type VersionPolicy,
} from "../../release/versions.js";
import { atLeast } from "../../profile/version.js";
import { SingleFlight } from "../single-flight.js";

/** One repository of the release (`siderolabs/imager`), wherever it lives. */
export interface RepoAccess {
  /** Where the repository's images are read from. */
  readonly source: ImageSource;
  /** The reference string `source.resolve` accepts for a tag. */
  refFor(tag: string): string;
  /** Tags of the repository. */
  tags(): Promise<string[]>;
}

/** Opens repositories by path (`siderolabs/imager`). */
export type RepoOpener = (repo: string) => RepoAccess;

/** Boot files of one version and architecture, as local paths. */
export interface BootFiles {
  vmlinuz: string;
  initramfs: string;
  /** Absent before Talos 1.5 (no UKI inputs). */
  systemdStub?: string;
  systemdBoot?: string;
  /** Digest of the imager image they came from: part of every asset key. */
  imagerDigest: string;
}

/** Options of {@link ReleaseSource}. */
export interface ReleaseSourceOptions {
  open: RepoOpener;
  policy: VersionPolicy;
  /** Registry host catalogs are re-homed to, and the pull namespace (upstream `artifacts.core`). */
  registry: string;
  namespace: string;
  /** Directory for extracted boot files. */
  cacheDir: string;
  /** How long the version list is reused before the imager tags are listed again. */
  versionsTtlMs?: number;
}

const IMAGER = "siderolabs/imager";
const MAX_CATALOG_FILE = 4 << 20;
const BOOT_FILES = ["vmlinuz", "initramfs.xz", "systemd-stub.efi", "systemd-boot.efi"] as const;

/** Reads releases through `RepoAccess`; all lookups are single-flight and cached. */
export class ReleaseSource {
  readonly #o: ReleaseSourceOptions;
  #tags: { at: number; tags: Promise<string[]> } | undefined;
  readonly #catalogs = new Map<string, Promise<unknown>>();
  readonly #boot = new SingleFlight<BootFiles>();

  constructor(opts: ReleaseSourceOptions) {
    this.#o = opts;
  }

  /** Opens another repository of the release (the registry proxy uses it). */
  repo(path: string): RepoAccess {
    return this.#o.open(path);
  }

  async #imagerTags(): Promise<string[]> {
    const ttl = this.#o.versionsTtlMs ?? 15 * 60_000;
    if (this.#tags === undefined || Date.now() - this.#tags.at > ttl) {
      const tags = this.#o.open(IMAGER).tags();
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
      const files = await this.#readFiles("siderolabs/extensions", version.tag, [
        "image-digests",
        "descriptions.yaml",
      ]);
      const digests = files.get("image-digests");
      if (digests === undefined)
        throw new BootforgeError("dependency", `extensions:${version.tag} has no image-digests file`);
      return parseExtensionsCatalog(
        digests,
        files.get("descriptions.yaml"),
        this.#o.registry,
        this.#o.namespace,
      );
    });
  }

  /** The official overlays catalog; `[]` before 1.7 without reading anything (as upstream). */
  async overlays(version: ServedVersion): Promise<OverlayEntry[]> {
    if (!atLeast(version.version, 1, 7)) return [];
    return this.#cached(`ovl:${version.tag}`, async () => {
      const files = await this.#readFiles("siderolabs/overlays", version.tag, ["overlays.yaml"]);
      const text = files.get("overlays.yaml");
      if (text === undefined)
        throw new BootforgeError("dependency", `overlays:${version.tag} has no overlays.yaml file`);
      return parseOverlaysCatalog(text);
    });
  }

  /** The imager's boot files for a version and architecture, extracted once to the cache dir. */
  async bootFiles(version: ServedVersion, arch: "amd64" | "arm64"): Promise<BootFiles> {
    return this.#boot.do(`${version.tag}/${arch}`, async () => {
      const repo = this.#o.open(IMAGER);
      // The imager's amd64 image carries the inputs of every architecture, as upstream reads it.
      const img = await resolveImage(repo.source, repo.refFor(version.tag), {
        os: "linux",
        architecture: "amd64",
      });
      const hex = img.descriptor.digest.replace(/^sha256:/, "");
      const dir = join(this.#o.cacheDir, hex.slice(0, 16), arch);
      const files = (name: string): string => join(dir, name);
      const have = async (n: string): Promise<boolean> =>
        stat(files(n)).then(
          () => true,
          () => false,
        );
      if (!(await have("vmlinuz")) || !(await have("initramfs.xz"))) {
        const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
        await rm(tmp, { recursive: true, force: true });
        await mkdir(tmp, { recursive: true });
        const wanted = new Map(BOOT_FILES.map((f) => [`usr/install/${arch}/${f}`, join(tmp, f)]));
        await extractFiles(flattenImage(img), wanted);
        await rm(dir, { recursive: true, force: true });
        await mkdir(join(dir, ".."), { recursive: true });
        await rename(tmp, dir);
      }
      if (!(await have("vmlinuz")) || !(await have("initramfs.xz"))) {
        throw new BootforgeError(
          "dependency",
          `imager:${version.tag} has no usr/install/${arch}/vmlinuz or initramfs.xz`,
        );
      }
      return {
        vmlinuz: files("vmlinuz"),
        initramfs: files("initramfs.xz"),
        ...((await have("systemd-stub.efi")) ? { systemdStub: files("systemd-stub.efi") } : {}),
        ...((await have("systemd-boot.efi")) ? { systemdBoot: files("systemd-boot.efi") } : {}),
        imagerDigest: img.descriptor.digest,
      };
    });
  }

  async #readFiles(repoPath: string, tag: string, names: readonly string[]): Promise<Map<string, string>> {
    const repo = this.#o.open(repoPath);
    const img = await resolveImage(repo.source, repo.refFor(tag), { os: "linux", architecture: "amd64" });
    return readSmallFiles(flattenImage(img), names);
  }

  #cached<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.#catalogs.get(key) as Promise<T> | undefined;
    if (p === undefined) {
      p = load();
      this.#catalogs.set(key, p);
      // Failures are retried on the next request instead of being remembered forever.
      p.catch(() => this.#catalogs.delete(key));
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
    body.on("data", (chunk: unknown) => {
      const c = chunk as Buffer;
      size += c.length;
      if (size > MAX_CATALOG_FILE) {
        extract.destroy(
          new BootforgeError("too-large", `catalog file ${name} exceeds ${MAX_CATALOG_FILE} bytes`),
        );
        return;
      }
      chunks.push(c);
    });
    body.on("end", () => {
      out.set(name, Buffer.concat(chunks).toString("utf8"));
      next();
    });
  });
  await pipeline(stream, extract);
  return out;
}

/** Streams the wanted regular files of a tar stream to their destination paths. */
async function extractFiles(stream: Readable, wanted: Map<string, string>): Promise<void> {
  const extract = tar.extract();
  extract.on("entry", (header, body, next) => {
    const dest = wanted.get(entryName(header.name));
    if (header.type !== "file" || dest === undefined) {
      body.on("end", next).resume();
      return;
    }
    pipeline(body, createWriteStream(dest)).then(
      () => next(),
      (e: unknown) => extract.destroy(e as Error),
    );
  });
  await pipeline(stream, extract);
}

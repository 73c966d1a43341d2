/**
 * Asset building behind the cache: (schematic, version, asset path) → enhanced profile → cache
 * key → the stored asset, built at most once at a time per key (single flight), within a
 * bounded queue (503 + Retry-After when full) and a timeout. Builds run detached from the
 * request, so a client that disconnects never cancels a build others wait for.
 *
 * Every output kind the pipeline supports goes to the imager pipeline (`AssetPipeline`, normally
 * `ImagerPipeline` around `build()`), which gets a layer cache for intermediates (the initramfs
 * with extensions, shared by every kind and platform of one schematic). Without a pipeline the
 * kernel is copied from the release and the command line computed here (same modules, same bytes,
 * the overlay installer asked for its kernel args); other kinds answer 501.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prepareOverlay } from "../../imager/pipeline/overlay.js";
import { buildKernelCmdline } from "../../cmdline/index.js";
import { BootforgeError } from "../../errors/index.js";
import type { OutputKind, Profile } from "../../profile/index.js";
import type { ServedVersion } from "../../release/versions.js";
import type { Schematic } from "../../schematic/index.js";
import type { BuildQueue } from "../build-queue.js";
import type { FactoryMetrics } from "../metrics.js";
import type { ReleaseSource } from "../../release/release-source.js";
import type { TalosReleases } from "../../release/talos-releases.js";
import { SingleFlight } from "../single-flight.js";
import type { AssetStore, StoredObject } from "../storage/types.js";
import { enhanceFromSchematic, type Enhanced } from "./enhance.js";

/** Bumped whenever produced bytes change for equal inputs, so old cache entries are not reused. */
export const BUILDER_REVISION = "bootforge-assets-1";

/** One asset request, already validated by the route. */
export interface AssetRequest {
  schematicId: string;
  /** Canonical schematic YAML (the virtual `schematic` extension's `extraInfo`). */
  canonical: string;
  schematic: Schematic;
  version: ServedVersion;
  /** Partial profile from the asset path grammar. */
  profile: Profile;
}

/** Caches an intermediate (e.g. an initramfs with extensions) under a key of its own inputs. */
export type LayerCache = (
  parts: Record<string, unknown>,
  produce: (tmpPath: string) => Promise<void>,
) => Promise<StoredObject>;

/** Everything the imager pipeline needs for one asset. */
export interface PipelineInput {
  enhanced: Enhanced;
  version: ServedVersion;
  arch: "amd64" | "arm64";
  /** Digest of the version's imager image for this arch (already part of the asset key). */
  imagerDigest: string;
  schematicId: string;
  canonical: string;
  /** `Image Factory (<externalURL>)`-style author of the virtual schematic extension. */
  externalURL: string;
  /** The release inputs of this version and architecture. */
  release: ReleaseSource;
  layers: LayerCache;
  signal: AbortSignal;
}

/** The imager pipeline as the factory uses it (the `imager` branch's `build()` behind an adapter). */
export interface AssetPipeline {
  /** True when the pipeline produces this output kind. */
  supports(kind: OutputKind): boolean;
  /** Why this enhanced profile cannot be built (a 501 message naming the kind), or undefined. */
  unsupportedReason?(enhanced: Enhanced): string | undefined;
  /** Writes the asset to `outPath`. */
  build(input: PipelineInput, outPath: string): Promise<void>;
}

/** Options of {@link AssetBuilder}. */
export interface AssetBuilderOptions {
  store: AssetStore;
  release: TalosReleases;
  queue: BuildQueue;
  metrics: FactoryMetrics;
  timeoutMs: number;
  /** The factory's external URL, read per build (it is only known once the socket is bound). */
  externalURL: () => string;
  secureBootEnabled: boolean;
  pipeline?: AssetPipeline | undefined;
}

/** An asset request resolved to its cache key. */
export interface ResolvedAsset {
  key: string;
  kind: OutputKind;
  arch: "amd64" | "arm64";
  enhanced: Enhanced;
}

/** Error for output kinds nobody can build yet: 501, naming the kind. */
export class NotImplementedError extends BootforgeError {
  readonly httpStatusOverride = 501;
  constructor(message: string) {
    super("unsupported", message);
  }
}

/** Stable JSON (sorted object keys) for hashing. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(",")}}`;
  }
  return typeof v === "bigint" ? `"${v}"` : JSON.stringify(v);
}

function hashKey(parts: unknown): string {
  return createHash("sha256").update(stableJson(parts)).digest("hex");
}

/** Builds and caches assets. */
export class AssetBuilder {
  readonly #o: AssetBuilderOptions;
  readonly #flight = new SingleFlight<StoredObject>();

  constructor(opts: AssetBuilderOptions) {
    this.#o = opts;
  }

  /** Builds currently running or waiting (distinct keys). */
  get inFlight(): number {
    return this.#flight.size;
  }

  /** Validates the request against the version's catalogs and computes its cache key. */
  async resolve(req: AssetRequest): Promise<ResolvedAsset> {
    const kind = req.profile.output?.kind;
    const arch = req.profile.arch;
    if (kind === undefined || (arch !== "amd64" && arch !== "arm64")) {
      throw new BootforgeError("internal", "asset profile without output kind or architecture");
    }
    const release = this.#o.release;
    const enhanced = await enhanceFromSchematic(
      req.profile,
      req.schematic,
      req.version,
      { extensions: () => release.extensions(req.version), overlays: () => release.overlays(req.version) },
      this.#o.secureBootEnabled,
    );
    const pipeline = this.#o.pipeline;
    if (kind !== "kernel" && kind !== "cmdline" && !pipeline?.supports(kind)) {
      throw new NotImplementedError(
        `building ${kind} assets is not available in this Bootforge build yet (the imager pipeline does not produce them)`,
      );
    }
    const unsupported = pipeline?.unsupportedReason?.(enhanced);
    if (unsupported !== undefined) throw new NotImplementedError(unsupported);
    // The command line needs no release inputs; everything else is bound to the imager's digest.
    const imager = kind === "cmdline" ? undefined : await release.imagerDigest(req.version, arch);
    const key = hashKey({
      rev: BUILDER_REVISION,
      profile: enhanced.profile,
      imager,
      extensions: enhanced.extensions.map((e) => e.digest),
      overlay: enhanced.overlay?.digest,
      // Only assets that embed the virtual extension depend on the schematic as a whole.
      schematic: enhanced.schematicExtension
        ? { id: req.schematicId, url: this.#o.externalURL() }
        : undefined,
    });
    return { key, kind, arch, enhanced };
  }

  /** The cached asset, or undefined, without building. */
  async cached(r: ResolvedAsset, version: ServedVersion): Promise<StoredObject | undefined> {
    const hit = await this.#o.store.get(r.key);
    if (hit !== undefined) {
      this.#o.metrics.assetsCached.inc({ output_kind: r.kind, talos_version: version.tag, arch: r.arch });
    }
    return hit;
  }

  /** The asset from the cache, or built now (once for concurrent identical requests). */
  async get(req: AssetRequest, r?: ResolvedAsset): Promise<StoredObject> {
    const resolved = r ?? (await this.resolve(req));
    const labels = { output_kind: resolved.kind, talos_version: req.version.tag, arch: resolved.arch };
    const hit = await this.#o.store.get(resolved.key);
    if (hit !== undefined) {
      this.#o.metrics.assetsCached.inc(labels);
      return hit;
    }
    return this.#flight.do(resolved.key, () =>
      this.#o.queue.run(async () => {
        // A build that finished while we queued (or another replica's) is reused.
        const again = await this.#o.store.get(resolved.key);
        if (again !== undefined) return again;
        const started = Date.now();
        try {
          const obj = await this.#timed((signal) => this.#build(req, resolved, signal));
          this.#o.metrics.assetsBuilt.inc(labels);
          for (const e of resolved.enhanced.extensions)
            this.#o.metrics.extensionHits.inc({ extension: e.name });
          return obj;
        } catch (e) {
          this.#o.metrics.buildErrors.inc({ output_kind: resolved.kind });
          throw e;
        } finally {
          this.#o.metrics.buildSeconds.observe((Date.now() - started) / 1000, { output_kind: resolved.kind });
        }
      }),
    );
  }

  async #timed<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        ac.abort();
        reject(new BootforgeError("unavailable", `asset build timed out after ${this.#o.timeoutMs / 1000}s`));
      }, this.#o.timeoutMs);
    });
    try {
      return await Promise.race([fn(ac.signal), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The overlay installer's `get-options` kernel args, as the imager would add them. */
  async #overlayKernelArgs(req: AssetRequest, r: ResolvedAsset, signal: AbortSignal): Promise<string[]> {
    const work = await mkdtemp(join(tmpdir(), "bootforge-overlay-"));
    try {
      const source = this.#o.release.source(req.version, r.arch);
      return (await prepareOverlay(source, r.enhanced.profile, work, signal)).options.kernelArgs;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  async #build(req: AssetRequest, r: ResolvedAsset, signal: AbortSignal): Promise<StoredObject> {
    const store = this.#o.store;
    const p = r.enhanced.profile;
    if (r.kind === "cmdline") {
      const overlayKernelArgs =
        r.enhanced.overlay === undefined ? undefined : await this.#overlayKernelArgs(req, r, signal);
      const text = buildKernelCmdline({
        platform: p.platform ?? "metal",
        arch: r.arch,
        version: req.version.tag,
        outputKind: "cmdline",
        secureboot: p.secureboot === true,
        metaValues: p.customization?.metaContents,
        extraKernelArgs: p.customization?.extraKernelArgs,
        overlayKernelArgs,
      }).toString();
      return store.put(r.key, (tmp) => writeFile(tmp, text));
    }
    const pipeline = this.#o.pipeline;
    if (pipeline === undefined || !pipeline.supports(r.kind)) {
      if (r.kind !== "kernel") throw new NotImplementedError(`no imager pipeline for ${r.kind} assets`);
      const boot = await this.#o.release.bootFiles(req.version, r.arch);
      return store.put(r.key, (tmp) => copyFile(boot.vmlinuz, tmp));
    }
    const layers: LayerCache = async (parts, produce) => {
      const key = hashKey({ rev: BUILDER_REVISION, layer: parts });
      const hit = await store.get(key);
      const layer = typeof parts.layer === "string" ? parts.layer : "unknown";
      this.#o.metrics.layers.inc({ layer, result: hit ? "hit" : "miss" });
      return hit ?? store.put(key, produce);
    };
    const imagerDigest = await this.#o.release.imagerDigest(req.version, r.arch);
    return store.put(r.key, (tmp) =>
      pipeline.build(
        {
          enhanced: r.enhanced,
          version: req.version,
          arch: r.arch,
          imagerDigest,
          schematicId: req.schematicId,
          canonical: req.canonical,
          externalURL: this.#o.externalURL(),
          release: this.#o.release.source(req.version, r.arch),
          layers,
          signal,
        },
        tmp,
      ),
    );
  }
}

/**
 * The factory's `AssetPipeline` on the real imager pipeline: the enhanced profile is resolved as
 * the imager CLI resolves it, the schematic's catalog extensions are pulled by digest, the virtual
 * `schematic` extension is added last (image-factory.md §2.4), and `build()` runs with a recording
 * reporter whose log is written out when a build fails. The initramfs with extensions is a cached
 * layer shared by every kind and platform built from the same schematic, version and arch.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline as streamPipeline } from "node:stream/promises";
import { isBootforgeError } from "../../errors/index.js";
import { build } from "../../imager/pipeline/index.js";
import { overlayBaseProfiles } from "../../imager/pipeline/overlay.js";
import { rebuildInitramfsStage } from "../../imager/pipeline/stages.js";
import type { InitramfsRebuildRequest, Stages } from "../../imager/pipeline/types.js";
import { schematicExtensionTar } from "../../imager/initramfs/virtual-extensions.js";
import { RecordingReporter, type ReportUpdate } from "../../imager/reporter/reporter.js";
import { resolveProfile, type ContainerAsset, type OutputKind, type Profile } from "../../profile/index.js";
import { mergeProfiles } from "../../profile/merge.js";
import { Quirks } from "../../profile/quirks.js";
import type { Logger } from "../logger.js";
import { NotImplementedError, type AssetPipeline, type PipelineInput } from "./asset-builder.js";

/** Upstream's factory builds with this SOURCE_DATE_EPOCH (cmd/image-factory/cmd/service.go). */
export const FACTORY_SOURCE_DATE_EPOCH = 1559424892;

/** Options of {@link ImagerPipeline}. */
export interface ImagerPipelineOptions {
  /** Scratch space on the same filesystem as the asset store (outputs are renamed into it). */
  scratchDir: string;
  /** SecureBoot keys directory (`/secureboot/…` paths of the profile map into it). */
  keysDir?: string | undefined;
  logger: Logger;
  /** Stage overrides (tests); the initramfs stage is always wrapped by the layer cache. */
  stages?: Partial<Stages>;
}

/** `build()` behind the factory's pipeline interface: every output kind the imager builds. */
export class ImagerPipeline implements AssetPipeline {
  readonly #o: ImagerPipelineOptions;

  private constructor(opts: ImagerPipelineOptions) {
    this.#o = opts;
  }

  /** Prepares the scratch directory. */
  static async create(opts: ImagerPipelineOptions): Promise<ImagerPipeline> {
    await mkdir(opts.scratchDir, { recursive: true });
    return new ImagerPipeline(opts);
  }

  supports(_kind: OutputKind): boolean {
    return true;
  }

  async build(input: PipelineInput, outPath: string): Promise<void> {
    const reporter = new RecordingReporter();
    const outDir = await mkdtemp(join(this.#o.scratchDir, "build-"));
    const kind = input.enhanced.profile.output?.kind ?? "unknown";
    try {
      const { profile, extensionKeys } = await this.#profile(input);
      const stages: Partial<Stages> = {
        ...this.#o.stages,
        rebuildInitramfs: (req) => this.#layeredInitramfs(input, extensionKeys, req),
      };
      const out = await build(
        profile,
        { release: input.release, ...(this.#o.keysDir ? { keysDir: this.#o.keysDir } : {}), stages },
        {
          outDir,
          reporter,
          signal: input.signal,
          sourceDateEpoch: FACTORY_SOURCE_DATE_EPOCH,
          tmpDir: this.#o.scratchDir,
        },
      );
      await moveFile(out, outPath);
    } catch (e) {
      this.#o.logger.log("error", "asset build failed", {
        kind,
        arch: input.arch,
        version: input.version.tag,
        schematic: input.schematicId,
        error: e instanceof Error ? e.message : String(e),
        buildLog: reporter.updates.map(logLine),
      });
      // Stages missing from this build are "not implemented", not the client's fault.
      if (
        isBootforgeError(e, "unsupported") &&
        /not (available|supported) (in|by) this Bootforge build/.test(e.message)
      ) {
        throw new NotImplementedError(`building ${kind} assets: ${e.message}`);
      }
      throw e;
    } finally {
      await rm(outDir, { recursive: true, force: true });
    }
  }

  /** The resolved profile: path profile + schematic, catalog extensions by digest, `schematic` last. */
  async #profile(input: PipelineInput): Promise<{ profile: Profile; extensionKeys: string[] }> {
    const { enhanced } = input;
    const exts: ContainerAsset[] = enhanced.extensions.map((e) => ({
      imageRef: `${e.pullReference}@${e.digest}`,
    }));
    const keys = enhanced.extensions.map((e) => e.digest);
    if (enhanced.schematicExtension) {
      const tar = await schematicExtensionTar(
        {
          id: input.schematicId,
          canonicalYaml: input.canonical,
          externalUrl: input.externalURL,
          includeExtraInfo: new Quirks(input.version.tag).supportsOverlay,
        },
        FACTORY_SOURCE_DATE_EPOCH,
      );
      const digest = createHash("sha256").update(tar).digest("hex");
      const path = join(this.#o.scratchDir, "schematic-extensions", `${digest}.tar`);
      if ((await stat(path).catch(() => undefined)) === undefined) {
        await mkdir(join(this.#o.scratchDir, "schematic-extensions"), { recursive: true });
        // Concurrent builds of one schematic write the same file: each through its own temp name.
        const tmp = `${path}.${process.pid}-${randomBytes(6).toString("hex")}.tmp`;
        await writeFile(tmp, tar);
        await rename(tmp, path);
      }
      exts.push({ tarballPath: path });
      keys.push(`sha256:${digest}`);
    }
    let base = structuredClone(enhanced.profile);
    if (enhanced.overlay !== undefined && base.overlay !== undefined) {
      // Upstream `MergeOverlayProfile`: the overlay's own profile (e.g. its bootloader) is merged
      // in, minus everything the factory sets itself.
      const own = (await overlayBaseProfiles(input.release, base))[base.overlay.name ?? ""];
      if (own !== undefined) {
        base = mergeProfiles(base, factoryOverlayProfile(own));
        // The schematic's bootloader is applied after the merge upstream, so it wins.
        const o = enhanced.profile.output;
        if (o?.imageOptions?.bootloader && base.output?.imageOptions)
          base.output.imageOptions.bootloader = o.imageOptions.bootloader;
        if (o?.isoOptions?.bootloader && base.output?.isoOptions)
          base.output.isoOptions.bootloader = o.isoOptions.bootloader;
      }
    }
    if (exts.length > 0) base.input = { ...base.input, systemExtensions: exts };
    return { profile: resolveProfile(base, { defaultVersion: input.version.tag }), extensionKeys: keys };
  }

  /** The initramfs rebuild through the layer cache: keyed by release and extension digests only. */
  async #layeredInitramfs(
    input: PipelineInput,
    extensionKeys: string[],
    req: InitramfsRebuildRequest,
  ): Promise<void> {
    const rebuild = this.#o.stages?.rebuildInitramfs ?? rebuildInitramfsStage;
    const obj = await input.layers(
      {
        layer: "initramfs",
        imager: input.imagerDigest,
        extensions: extensionKeys,
        version: req.version,
        arch: req.arch,
        epoch: req.sourceDateEpoch,
      },
      (tmp) => rebuild({ ...req, out: tmp }),
    );
    if (obj.path !== undefined) await copyFile(obj.path, req.out);
    else await streamPipeline(obj.open(), createWriteStream(req.out));
  }
}

/** An overlay profile without the fields upstream's factory zeroes before merging it. */
export function factoryOverlayProfile(p: Profile): Profile {
  const out = structuredClone(p);
  delete out.input;
  delete out.arch;
  delete out.platform;
  delete out.overlay;
  delete out.version;
  delete out.secureboot;
  if (out.output !== undefined) {
    delete out.output.kind;
    delete out.output.outFormat;
    if (out.output.imageOptions !== undefined) {
      delete out.output.imageOptions.diskFormat;
      delete out.output.imageOptions.diskFormatOptions;
      delete out.output.imageOptions.diskSize;
    }
  }
  return out;
}

function logLine(u: ReportUpdate): string {
  return `[${u.status}] ${u.message}`;
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (e) {
    // Different filesystems: copy instead.
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    await copyFile(from, to);
  }
}

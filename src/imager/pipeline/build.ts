/**
 * The imager pipeline (upstream `Imager.Execute`, imager.md §0) as one function both front doors
 * call: overlay, initramfs with extensions, kernel command line, UKI (signed with SecureBoot), then
 * the output kind, published atomically into the output directory and post-processed by `outFormat`.
 * The profile must already be resolved (`resolveProfile`); its dump is printed after `profile ready:`.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { invalidInput, unsupported } from "../../errors/index.js";
import { internalError } from "../../profile/internal-error.js";
import { buildKernelCmdline, type CmdlineOutputKind } from "../../cmdline/index.js";
import { dumpProfile } from "../../profile/serialize.js";
import { outputPath } from "../../profile/output-path.js";
import { Quirks } from "../../profile/quirks.js";
import { cloneProfile, type ContainerAsset, type OutputKind, type Profile } from "../../profile/model.js";
import type { EnrollKeys } from "../disk/boot-staging.js";
import type { UkiWrite } from "../iso/iso.js";
import { loadExtension } from "../../release/extensions/manifest.js";
import {
  extractBaseModules,
  locateBaseRootfs,
  providesKernelModules,
  type BaseModules,
} from "../initramfs/kernel-modules.js";
import { embeddedConfigExtensionTar, writeEmbeddedConfigExtension } from "../initramfs/virtual-extensions.js";
import { buildTimestamp } from "../source-date-epoch.js";
import { extraUkiProfiles } from "../../formats/pe/uki-sections.js";
import { layoutUki, type UkiInputs } from "../uki/uki.js";
import { HeldReporter, progress, nullReporter, type Reporter } from "../reporter/reporter.js";
import { signPe } from "../secureboot/authenticode.js";
import { writeEnrollmentDatabase } from "../secureboot/enrollment.js";
import { buildSignedUki, type UkiSigners } from "../secureboot/signed-uki.js";
import { loadWellKnownCertificates } from "../secureboot/well-known-certs.js";
import { enrollmentFiles, loadSigners, resolveFilePath } from "./inputs.js";
import type { ExtensionInput } from "../../release/release-source.js";
import { OutputStaging } from "./publish.js";
import { extractProfileImageCache } from "./image-cache.js";
import { prepareOverlay, type PipelineOverlay } from "./overlay.js";
import { resolveStages } from "./stages.js";
import type {
  BuildInputs,
  BuildOptions,
  IsoBuilt,
  IsoGenerator,
  OutputStageRequest,
  RebuildExtension,
  Stages,
} from "./types.js";

/** Everything the output stages share once the common steps ran. */
interface Assets {
  kernel: string;
  initramfs: string;
  cmdline: string;
  uki?: string;
  /** While the UKI is still being written (see `buildUkiStage`). */
  ukiWritten?: UkiWrite;
  sdBoot?: string;
  signers?: UkiSigners;
}

/** Builds the output of `profile` into `opts.outDir`; returns the final output path. */
export async function build(profile: Profile, inputs: BuildInputs, opts: BuildOptions): Promise<string> {
  const reporter = opts.reporter ?? nullReporter;
  try {
    return await run(profile, inputs, opts, reporter);
  } catch (e) {
    // Upstream's reporter prints the cause as the last console line.
    reporter.report({ message: errorMessage(e), status: "error" });
    throw e;
  }
}

async function run(
  requested: Profile,
  inputs: BuildInputs,
  opts: BuildOptions,
  reporter: Reporter,
): Promise<string> {
  let profile = requested;
  const epoch = opts.sourceDateEpoch ?? buildTimestamp();
  const stages = resolveStages(inputs.stages);
  const kind = profile.output?.kind ?? "unknown";
  if (kind === "unknown") throw invalidInput("profile is invalid: unknown output kind");
  checkRelease(profile, inputs);

  const work = await mkdtemp(join(opts.tmpDir ?? tmpdir(), "imager"));
  // Created beside the build (its failure is reported where it is needed, after the build's
  // own errors); removed with everything in it at the end.
  const staging = OutputStaging.create(opts.outDir);
  staging.catch(() => undefined);
  let ukiWrite: Promise<void> | undefined;
  let iso: EarlyIso | undefined;
  const discarding: Promise<unknown>[] = [];
  // Its signers hold connections to signer services until the build ends.
  let built: Assets | undefined;
  try {
    reporter.report({ message: "assembling the finalized profile...", status: "running" });
    let overlay: PipelineOverlay | undefined;
    if (profile.overlay !== undefined) {
      const stage = "pulling overlay...";
      reporter.report({ message: stage, status: "running" });
      const image = profile.overlay.image;
      progress(
        reporter,
        stage,
        `pulling ${image?.imageRef ?? image?.ociPath ?? image?.tarballPath ?? ""}...`,
      );
      overlay = await prepareOverlay(inputs.release, profile, work, opts.signal);
    } else {
      reporter.report({ message: "skipped pulling overlay (no overlay)", status: "skip" });
    }
    const embedded = await embeddedConfig(profile, work, epoch);
    if (embedded) profile = embedded.profile;
    reporter.report({ message: `profile ready:\n${dumpProfile(profile)}`, status: "succeeded" });
    opts.signal?.throwIfAborted();

    const ctx: Ctx = {
      // Removals of intermediates started while the build goes on; awaited before the work
      // directory goes (a failed one leaves its entry to that final removal).
      discard: (names) => {
        for (const n of names) discarding.push(rm(join(work, n), { recursive: true, force: true }));
      },
      outDir: opts.outDir,
      profile,
      inputs,
      reporter,
      stages,
      work,
      epoch,
      signal: opts.signal,
      ...(embedded ? { embeddedConfig: embedded } : {}),
      ...(overlay ? { overlay } : {}),
    };
    const cmdline = kernelCmdline(profile, kind, overlay?.options.kernelArgs);
    // An ISO's stage starts now, on what needs nothing of the initramfs or the UKI.
    if (kind === "iso") iso = startIso(ctx, cmdline);
    const initramfs = await buildInitramfs(ctx, kind);
    const kernel = await resolveFilePath(inputs.release, profile.input?.kernel?.path, "kernel");
    reporter.report({ message: `kernel command line: ${cmdline}`, status: "succeeded" });
    opts.signal?.throwIfAborted();

    const assets: Assets = { kernel, initramfs, cmdline };
    built = assets;
    // An ISO is built while its UKI is written (see `buildUkiStage`); other outputs, and a
    // replaced ISO stage (which may not know to wait), wait for it.
    const beside = kind === "iso" && profile.secureboot !== true && inputs.stages?.buildIso === undefined;
    if (needsUki(profile, kind)) {
      // Complete on return unless `beside`; then written while the ISO is made.
      ukiWrite = (await buildUkiStage(ctx, kind, assets, beside)).written;
      ukiWrite.catch(() => undefined);
    }
    opts.signal?.throwIfAborted();

    const out = await staging;
    const name = outputPath(profile);
    if (iso !== undefined) await finishIso(iso, assets, out.path(name), ukiWrite);
    else await writeOutput(ctx, kind, assets, out.path(name));
    opts.signal?.throwIfAborted();
    return await out.publish(name, profile.output?.outFormat, reporter, {
      sourceDateEpoch: epoch,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } finally {
    // Nothing may still be writing into the work directory when it goes.
    iso?.abandon();
    await iso?.done.catch(() => undefined);
    await ukiWrite?.catch(() => undefined);
    await Promise.allSettled(discarding);
    built?.signers?.close?.();
    // The staging directory (in the output directory) and the work directory are apart.
    await Promise.all([
      staging.catch(() => undefined).then((s) => s?.dispose()),
      rm(work, { recursive: true, force: true }),
    ]);
  }
}

interface Ctx {
  /** Starts removing these entries of the work directory (intermediates no longer read). */
  discard: (names: readonly string[]) => void;
  outDir: string;
  profile: Profile;
  inputs: BuildInputs;
  reporter: Reporter;
  stages: Stages;
  work: string;
  epoch: number;
  signal: AbortSignal | undefined;
  embeddedConfig?: EmbeddedConfig;
  overlay?: PipelineOverlay;
}

/** The embedded machine configuration as upstream adds it: a last, tarball-backed extension. */
interface EmbeddedConfig {
  profile: Profile;
  tarball: string;
  config: Buffer;
}

/** upstream handleEmbeddedConfig: appends `{tarballPath: <tmp>/embedded-config.tar}` to the extensions. */
async function embeddedConfig(
  profile: Profile,
  work: string,
  epoch: number,
): Promise<EmbeddedConfig | undefined> {
  const text = profile.customization?.embeddedMachineConfiguration;
  if (!text) return undefined;
  if (!new Quirks(profile.version ?? "").supportsEmbeddedConfig) {
    throw unsupported("embedding a machine configuration requires Talos 1.12 or later");
  }
  const config = Buffer.from(text);
  const tarball = join(work, "embedded-config.tar");
  // The tar is what the profile dump names; the build itself extracts the same members directly.
  await writeFile(tarball, await embeddedConfigExtensionTar(config, epoch));
  const next = cloneProfile(profile);
  next.input = {
    ...next.input,
    systemExtensions: [...(next.input?.systemExtensions ?? []), { tarballPath: tarball }],
  };
  return { profile: next, tarball, config };
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function checkRelease(profile: Profile, inputs: BuildInputs): void {
  const { release } = inputs;
  if (release.arch !== profile.arch)
    throw internalError(`release source is for ${release.arch}, the profile builds ${profile.arch ?? "?"}`);
  if (release.version !== profile.version)
    throw internalError(
      `release source is for ${release.version}, the profile builds ${profile.version ?? "?"}`,
    );
}

/** Upstream's needBuildUKI: iso/image/installer when UKIs (or sd-boot) exist, always for `uki`. */
function needsUki(profile: Profile, kind: OutputKind): boolean {
  const q = new Quirks(profile.version ?? "");
  if (kind === "uki") {
    if (!q.supportsUKI) throw unsupported("UKI output is not supported in this Talos version");
    return true;
  }
  return (
    (kind === "iso" || kind === "image" || kind === "installer") && (q.supportsUKI || q.useSDBootForUEFI)
  );
}

function kernelCmdline(profile: Profile, kind: OutputKind, overlayKernelArgs?: readonly string[]): string {
  return buildKernelCmdline({
    platform: profile.platform ?? "",
    arch: profile.arch ?? "",
    version: profile.version ?? "",
    outputKind: kind as CmdlineOutputKind,
    secureboot: profile.secureboot === true,
    metaValues: profile.customization?.metaContents,
    extraKernelArgs: profile.customization?.extraKernelArgs,
    overlayKernelArgs,
  }).toString();
}

/** upstream buildInitramfs: the release initramfs as is, or rebuilt with the system extensions. */
async function buildInitramfs(ctx: Ctx, kind: OutputKind): Promise<string> {
  const { profile, inputs, reporter } = ctx;
  // Resolved once: the early kernel-modules extraction and the rebuild both read it.
  let basePath: Promise<string> | undefined;
  const base = (): Promise<string> =>
    (basePath ??= resolveFilePath(inputs.release, profile.input?.initramfs?.path, "initramfs"));
  const exts = profile.input?.systemExtensions ?? [];
  if (exts.length === 0) {
    reporter.report({ message: "skipped initramfs rebuild (no system extensions)", status: "skip" });
    return kind === "kernel" || kind === "cmdline" ? "" : base();
  }
  if (kind === "kernel" || kind === "cmdline") return "";
  const stage = "rebuilding initramfs with system extensions...";
  reporter.report({ message: stage, status: "running" });
  // Each extension is resolved in order (progress lines as upstream prints them); the private
  // copies of cached trees are independent and made side by side.
  const loading: Promise<RebuildExtension>[] = [];
  const early: EarlyBase = { initramfs: base };
  try {
    try {
      await resolveExtensions(ctx, exts, stage, loading, early);
    } catch (e) {
      // Nothing (the embedded config's extension) may still be written into the work directory
      // when the caller removes it.
      await Promise.allSettled(loading);
      throw e;
    }
    const settled = await Promise.allSettled(loading);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    const extensions = settled.map((r) => (r as PromiseFulfilledResult<RebuildExtension>).value);
    const out = join(ctx.work, "initramfs.xz");
    await ctx.stages.rebuildInitramfs({
      initramfs: await base(),
      extensions,
      version: profile.version ?? "",
      arch: profile.arch ?? "",
      out,
      workDir: join(ctx.work, "initramfs-work"),
      sourceDateEpoch: ctx.epoch,
      ...(early.base ? { baseModules: early.base } : {}),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      progress: (d) => progress(reporter, stage, d),
    });
    reporter.report({ message: "initramfs ready", status: "succeeded" });
    return out;
  } finally {
    // No tool may still be extracting into the work directory once this returns.
    await early.base?.catch(() => undefined);
  }
}

/** The base initramfs (resolved once) and its kernel modules, extracted ahead when needed. */
interface EarlyBase {
  initramfs: () => Promise<string>;
  base?: Promise<BaseModules | undefined>;
}

/**
 * Starts extracting the base initramfs's kernel modules as soon as the resolved (cached) trees
 * show an extension that ships modules: the modules.dep chain (decompress, unsquashfs, depmod) is
 * the longest path of the rebuild, and this part of it needs nothing from the extensions. The
 * decompression starts at once, before that is known, and is stopped if no extension ships any.
 */
function startBaseModules(
  ctx: Ctx,
  resolving: readonly (Promise<ExtensionInput> | undefined)[],
  initramfs: () => Promise<string>,
): Promise<BaseModules | undefined> {
  const quirks = new Quirks(ctx.profile.version ?? "");
  const workDir = join(ctx.work, "base-modules");
  const stop = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
  const located = initramfs().then((baseInitramfs) => locateBaseRootfs({ baseInitramfs, workDir, signal }));
  located.catch(() => undefined);
  // The first extension found to ship modules starts the extraction; a failed check counts as
  // none here (the rebuild checks again and reports it in order).
  const firstProvider = new Promise<boolean>((resolve) => {
    let pending = resolving.length;
    const settle = (provides: boolean): void => {
      if (provides) resolve(true);
      else if (--pending === 0) resolve(false);
    };
    if (pending === 0) resolve(false);
    for (const r of resolving) {
      void (async () => {
        const ext = await r;
        if (ext === undefined) return false;
        return providesKernelModules(ext.extension.rootfs, quirks, ext.extension.manifest.metadata.name);
      })().then(settle, () => settle(false));
    }
  });
  return firstProvider.then(async (provides) => {
    if (!provides) {
      // Nothing may still write into the work directory once the build ends.
      stop.abort();
      await located.catch(() => undefined);
      return undefined;
    }
    return extractBaseModules({
      baseInitramfs: await initramfs(),
      quirks,
      workDir,
      located,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
  });
}

/** Resolves the extensions (side by side) and takes them in order (onto `loading`). */
async function resolveExtensions(
  ctx: Ctx,
  exts: readonly ContainerAsset[],
  stage: string,
  loading: Promise<RebuildExtension>[],
  early: EarlyBase,
): Promise<void> {
  const { inputs } = ctx;
  const embedded = (a: ContainerAsset): boolean =>
    ctx.embeddedConfig !== undefined && a.tarballPath === ctx.embeddedConfig.tarball;
  // Every image is resolved (index, manifest, digest checks, extraction) side by side from the
  // start; the loop below still reports and takes them one by one in profile order, so the
  // progress lines and the first error reported are those of resolving them in turn.
  const resolving = exts.map((a) => (embedded(a) ? undefined : inputs.release.extension(a)));
  for (const r of resolving) r?.catch(() => undefined);
  // Awaited by the rebuild when it needs the modules; settled before the work directory goes.
  early.base = startBaseModules(ctx, resolving, early.initramfs);
  early.base.catch(() => undefined);
  try {
    await takeInOrder(ctx, exts, stage, loading, resolving);
  } catch (e) {
    // None may still be extracting into the cache or the work directory once this fails.
    await Promise.allSettled(resolving.filter((r) => r !== undefined));
    throw e;
  }
}

/** Reports and awaits each resolved extension in profile order (the embedded config is written). */
async function takeInOrder(
  ctx: Ctx,
  exts: readonly ContainerAsset[],
  stage: string,
  loading: Promise<RebuildExtension>[],
  resolving: readonly (Promise<ExtensionInput> | undefined)[],
): Promise<void> {
  const { reporter } = ctx;
  for (const [i, asset] of exts.entries()) {
    const label = asset.imageRef ?? asset.ociPath ?? asset.tarballPath ?? "";
    const dir = join(ctx.work, "extensions", String(i));
    if (ctx.embeddedConfig && resolving[i] === undefined) {
      // Written directly rather than extracted, so the config's SELinux label reaches the squashfs.
      progress(reporter, stage, `extracting ${label}...`);
      const ext = await writeEmbeddedConfigExtension(dir, ctx.embeddedConfig.config);
      loading.push(loadExtension(dir).then((l) => ({ ...l, ...(ext.labels ? { labels: ext.labels } : {}) })));
      continue;
    }
    // upstream ContainerAsset.Extract: a tarball is extracted, never pulled
    progress(
      reporter,
      stage,
      asset.tarballPath
        ? `extracting ${asset.tarballPath}...`
        : asset.ociPath
          ? `using OCI image from ${asset.ociPath}...`
          : `pulling ${label}...`,
    );
    const ext = await resolving[i]!;
    // The cached tree itself: the rebuild only reads its extensions (firmware is copied out,
    // the layer leaves it out), so no private copy is made.
    loading.push(Promise.resolve(ext.extension));
    ctx.signal?.throwIfAborted();
  }
}

/**
 * The UKI stage. Returns once the UKI is laid out, with the promise of its write, which reports
 * "UKI ready": `beside` (an unsigned ISO) leaves the write running, the caller builds the ISO
 * meanwhile; otherwise the UKI is complete when this returns.
 */
async function buildUkiStage(
  ctx: Ctx,
  kind: OutputKind,
  assets: Assets,
  beside: boolean,
): Promise<{ written: Promise<void> }> {
  const { profile, inputs, reporter } = ctx;
  const stage = "building UKI...";
  reporter.report({ message: stage, status: "running" });
  const stub = await resolveFilePath(inputs.release, profile.input?.sdStub?.path, "systemd-stub");
  const sdBoot = await resolveFilePath(inputs.release, profile.input?.sdBoot?.path, "systemd-boot");
  const ukiInputs: UkiInputs = {
    stub,
    kernel: { path: assets.kernel },
    initrd: { path: assets.initramfs },
    cmdline: assets.cmdline,
    version: profile.version ?? "",
    ...(profile.name ? { name: profile.name } : {}),
    // Upstream's builder drops the profiles silently before Talos 1.10 (1.5–1.9 UKIs have none).
    profiles:
      new Quirks(profile.version ?? "").supportsUKIProfiles &&
      (kind === "uki" || kind === "iso" || kind === "image" || kind === "installer")
        ? extraUkiProfiles(kind, assets.cmdline)
        : [],
    timestamp: ctx.epoch,
  };
  const uki = join(ctx.work, "vmlinuz.efi");
  if (profile.secureboot === true) {
    const signers = await loadSigners(profile, inputs.keysDir);
    assets.signers = signers;
    progress(reporter, stage, "signing systemd-boot");
    assets.sdBoot = join(ctx.work, "systemd-boot.efi.signed");
    await signPe(sdBoot, assets.sdBoot, signers.uki, { signingTime: ctx.epoch });
    progress(reporter, stage, "generating UKI sections");
    progress(reporter, stage, "assembling UKI");
    progress(reporter, stage, "signing UKI");
    await buildSignedUki(ukiInputs, signers, uki, { signingTime: ctx.epoch });
    assets.uki = uki;
    reporter.report({ message: "UKI ready", status: "succeeded" });
    return { written: Promise.resolve() };
  }
  assets.sdBoot = join(ctx.work, "systemd-boot.efi");
  await copyFile(sdBoot, assets.sdBoot);
  progress(reporter, stage, "generating UKI sections");
  progress(reporter, stage, "assembling UKI");
  const layout = await layoutUki(ukiInputs);
  assets.uki = uki;
  const write = layout.write(uki).then(() => {
    reporter.report({ message: "UKI ready", status: "succeeded" });
  });
  if (beside) assets.ukiWritten = { ready: write, size: layout.size };
  else await write;
  return { written: write };
}

/** The ISO stage, started with the build and waiting for what the build makes. */
interface EarlyIso {
  /** Hands the stage the built assets and the output path. */
  deliver(assets: Assets, out: string): void;
  /** The build stopped before delivering: the stage stops waiting (no-op once delivered). */
  abandon(): void;
  /** Passes on the stage's console lines, held until the UKI is ready (as upstream orders them). */
  release(): void;
  readonly done: Promise<void>;
}

function startIso(ctx: Ctx, cmdline: string): EarlyIso {
  const held = new HeldReporter(ctx.reporter);
  let deliver!: (d: Delivered) => void;
  let abandon!: (e: Error) => void;
  const delivered = new Promise<Delivered>((resolve, reject) => {
    deliver = resolve;
    abandon = reject;
  });
  delivered.catch(() => undefined);
  const done = writeIso({ ...ctx, reporter: held }, cmdline, delivered);
  done.catch(() => undefined);
  return {
    deliver: (assets, out) => deliver({ assets, out }),
    abandon: () => abandon(internalError("the build stopped before its ISO")),
    release: () => held.release(),
    done,
  };
}

interface Delivered {
  assets: Assets;
  out: string;
}

/**
 * Delivers the assets to the ISO stage and waits for it. An unsigned ISO is built while its UKI
 * is written: GRUB's images and the EFI image up to the UKI's copy need nothing from the UKI's
 * bytes (its size is known from the layout). The stage's lines are held until "UKI ready"; a
 * failed UKI is the error reported (the ISO, which waits for it, is left to settle first).
 */
async function finishIso(
  iso: EarlyIso,
  assets: Assets,
  out: string,
  ukiWrite: Promise<void> | undefined,
): Promise<void> {
  iso.deliver(assets, out);
  try {
    await ukiWrite;
  } catch (e) {
    await iso.done.catch(() => undefined);
    throw e;
  }
  iso.release();
  await iso.done;
}

/** upstream out.go: dispatch on the output kind. */
async function writeOutput(ctx: Ctx, kind: OutputKind, assets: Assets, out: string): Promise<void> {
  const { reporter } = ctx;
  // Messages name the profile's paths and the published file, not cache or staging paths.
  const shown = join(ctx.outDir, basename(out));
  const copy = async (stage: string, src: string, done: string, srcName = src) => {
    reporter.report({ message: stage, status: "running" });
    progress(reporter, stage, `copying ${srcName} to ${shown}`);
    await copyFile(src, out);
    reporter.report({ message: done, status: "succeeded" });
  };
  switch (kind) {
    case "kernel":
      return copy("copying kernel...", assets.kernel, "kernel output ready", ctx.profile.input?.kernel?.path);
    case "initramfs":
      return copy(
        "copying initramfs...",
        assets.initramfs,
        "initramfs output ready",
        ctx.profile.input?.systemExtensions?.length ? undefined : ctx.profile.input?.initramfs?.path,
      );
    case "uki":
      // [quirk] upstream's UKI output prints "copying kernel...".
      return copy("copying kernel...", requireUki(assets), "UKI output ready");
    case "cmdline":
      await writeFile(out, assets.cmdline, { mode: 0o644 });
      return;
    case "iso":
      throw internalError("ISO outputs are built by their early stage");
    case "image":
    case "installer": {
      const workDir = join(ctx.work, kind);
      await mkdir(workDir, { recursive: true });
      const enrollKeys = kind === "image" ? await imageEnrollKeys(ctx, assets) : undefined;
      // The installer output does not carry the image cache (upstream ignores it there).
      const imageCacheDir = kind === "image" ? await imageCache(ctx) : undefined;
      const req: OutputStageRequest = {
        profile: ctx.profile,
        inputs: ctx.inputs,
        out,
        workDir,
        kernel: assets.kernel,
        initramfs: assets.initramfs,
        cmdline: assets.cmdline,
        ...(assets.uki ? { uki: assets.uki } : {}),
        ...(assets.sdBoot ? { sdBoot: assets.sdBoot } : {}),
        ...(enrollKeys ? { enrollKeys } : {}),
        ...(ctx.overlay ? { overlay: ctx.overlay } : {}),
        ...(imageCacheDir ? { imageCacheDir } : {}),
        sourceDateEpoch: ctx.epoch,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        reporter,
      };
      return kind === "image" ? ctx.stages.buildImage(req) : ctx.stages.buildInstaller(req);
    }
    case "unknown":
      throw invalidInput("unknown output kind");
  }
}

function requireUki(assets: Assets): string {
  if (!assets.uki) throw internalError("UKI missing");
  return assets.uki;
}

/** Which ISO generator upstream runs (imager.md §6.1). */
export function isoGenerator(profile: Profile): IsoGenerator {
  if (profile.secureboot === true) return "uefi";
  const q = new Quirks(profile.version ?? "");
  if (q.supportsISOBootloaderChoice) {
    switch (profile.output?.isoOptions?.bootloader ?? "none") {
      case "dual-boot":
        return "hybrid";
      case "sd-boot":
        return "uefi";
      case "grub":
        return "grub";
      case "none":
        throw invalidInput("ISO bootloader none is not supported");
    }
  }
  return q.useSDBootForUEFI ? "hybrid" : "grub";
}

/** PK/KEK/db.auth: the profile's pre-built files, else generated from the UKI signer (imager.md §7.6). */
async function enrollmentDatabase(
  ctx: Ctx,
  assets: Assets,
  stage: string,
): Promise<{ pk: string; kek: string; db: string }> {
  const { profile, reporter, inputs } = ctx;
  const signers = assets.signers;
  if (!signers) throw internalError("SecureBoot output without signers");
  const files = enrollmentFiles(profile, inputs.keysDir);
  if (files) return files;
  progress(reporter, stage, "generating SecureBoot database...");
  // Upstream puts Microsoft's KEK CAs into KEK and its UEFI CAs into db, beside the signer's certificate.
  const wellKnown = profile.input?.secureboot?.includeWellKnownCerts
    ? await loadWellKnownCertificates()
    : undefined;
  return writeEnrollmentDatabase(join(ctx.work, "sb-db"), {
    signer: signers.uki,
    timestamp: ctx.epoch,
    ...(wellKnown ? { wellKnown } : {}),
  });
}

/** A SecureBoot image's auto-enrollment (enroll mode ≠ off; default if-safe), as upstream `outImage`. */
async function imageEnrollKeys(ctx: Ctx, assets: Assets): Promise<EnrollKeys | undefined> {
  if (ctx.profile.secureboot !== true) return undefined;
  const mode = ctx.profile.output?.imageOptions?.sdBootEnrollKeys ?? "if-safe";
  if (mode === "off") return undefined;
  return { mode, ...(await enrollmentDatabase(ctx, assets, "creating disk image...")) };
}

/** The profile's image cache extracted for the target arch (iso and image outputs), if any. */
async function imageCache(ctx: Ctx): Promise<string | undefined> {
  const asset = ctx.profile.input?.imageCache;
  if (!asset) return undefined;
  const dir = join(ctx.work, "imagecache");
  await extractProfileImageCache(ctx.inputs.release, asset, ctx.profile.arch ?? "", dir);
  return dir;
}

async function writeIso(ctx: Ctx, cmdline: string, delivered: Promise<Delivered>): Promise<void> {
  const { profile, reporter, inputs } = ctx;
  const stage = "building ISO...";
  reporter.report({ message: stage, status: "running" });
  const generator = isoGenerator(profile);
  const sb = profile.secureboot === true;
  // Extracted while the initramfs is built; its output is only grafted in by xorriso.
  const cacheDir = imageCache(ctx);
  cacheDir.catch(() => undefined);
  const built = delivered.then(async ({ assets, out }): Promise<IsoBuilt> => {
    const enrollment = sb ? await enrollmentDatabase(ctx, assets, stage) : undefined;
    const imageCacheDir = await cacheDir;
    return {
      out,
      kernel: assets.kernel,
      initramfs: assets.initramfs,
      ...(assets.uki ? { uki: assets.uki } : {}),
      ...(assets.ukiWritten ? { ukiWritten: assets.ukiWritten } : {}),
      ...(assets.sdBoot ? { sdBoot: assets.sdBoot } : {}),
      ...(enrollment ? { enrollment } : {}),
      ...(sb && assets.signers ? { signerCertificateDer: assets.signers.uki.certificate.der } : {}),
      ...(imageCacheDir ? { imageCacheDir } : {}),
    };
  });
  try {
    await ctx.stages.buildIso({
      generator,
      workDir: join(ctx.work, "iso"),
      version: profile.version ?? "",
      arch: profile.arch ?? "",
      cmdline,
      secureBootEnroll: sb ? (profile.output?.isoOptions?.sdBootEnrollKeys ?? "if-safe") : "off",
      grubModules: (platform) => inputs.release.imagerPath(`/usr/lib/grub/${platform}`),
      built,
      sourceDateEpoch: ctx.epoch,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      progress: (d) => progress(reporter, stage, d),
      // The initramfs rebuild's intermediates go while xorriso works on one core.
      onFinalTool: () => ctx.discard(["extensions", "initramfs-work", "base-modules"]),
    });
  } finally {
    // Nothing may still be extracting into the work directory once this returns.
    await cacheDir.catch(() => undefined);
    await built.catch(() => undefined);
  }
  reporter.report({ message: "ISO ready", status: "succeeded" });
}

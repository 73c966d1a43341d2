/**
 * Default stage implementations: adapters onto the modules that own them (`build/initramfs`,
 * `build/iso`, and through `output-stages.ts` `build/disk` and `build/installer`).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { unsupported } from "../../errors/index.js";
import { Quirks } from "../../profile/quirks.js";
import { rebuildInitramfs } from "../initramfs/rebuild.js";
import { createGrubIso, createHybridIso, createUefiIso, type GrubModuleDirs } from "../iso/iso.js";
import { buildImageStage, buildInstallerStage } from "./output-stages.js";
import type { InitramfsRebuildRequest, IsoRequest, Stages } from "./types.js";

function isoArch(arch: string): "amd64" | "arm64" {
  if (arch !== "amd64" && arch !== "arm64") throw unsupported(`unsupported architecture ${arch}`);
  return arch;
}

/** The initramfs rebuild (imager.md §4) as the pipeline calls it. */
export async function rebuildInitramfsStage(req: InitramfsRebuildRequest): Promise<void> {
  await rebuildInitramfs({
    baseInitramfs: req.initramfs,
    arch: isoArch(req.arch),
    quirks: new Quirks(req.version),
    extensions: req.extensions.map((e) => ({ dir: e.dir, ...(e.labels ? { labels: e.labels } : {}) })),
    workDir: req.workDir,
    output: req.out,
    sourceDateEpoch: req.sourceDateEpoch,
    log: req.progress,
    ...(req.baseModules ? { baseModules: req.baseModules } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  });
}

/** ISO generation (imager.md §6) as the pipeline calls it. */
export async function buildIsoStage(req: IsoRequest): Promise<void> {
  const arch = isoArch(req.arch);
  const common = {
    output: req.out,
    workDir: req.workDir,
    version: req.version,
    quirks: new Quirks(req.version),
    arch,
    sourceDateEpoch: req.sourceDateEpoch,
    log: req.progress,
    ...(req.onFinalTool ? { onFinalTool: req.onFinalTool } : {}),
    ...(req.imageCacheDir ? { imageCacheDir: req.imageCacheDir } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
  };
  const optionalDir = (platform: string) => req.grubModules(platform).catch(() => undefined);
  const grubModules = async (): Promise<GrubModuleDirs> => {
    const [i386pc, efi] = await Promise.all([
      optionalDir("i386-pc"),
      optionalDir(arch === "amd64" ? "x86_64-efi" : "arm64-efi"),
    ]);
    return { ...(i386pc ? { i386pc } : {}), ...(efi ? { efi } : {}) };
  };
  const uefi = async () => {
    if (!req.uki || !req.sdBoot) throw unsupported("this Talos version has no UKI for a systemd-boot ISO");
    let signingCertDer: string | undefined;
    if (req.signerCertificateDer) {
      signingCertDer = join(req.workDir, "..", "uki-signing-cert.der");
      await writeFile(signingCertDer, req.signerCertificateDer);
    }
    return {
      sdBoot: req.sdBoot,
      uki: req.uki,
      ...(req.ukiWritten ? { ukiWritten: req.ukiWritten } : {}),
      secureBootEnroll: req.secureBootEnroll,
      ...(signingCertDer ? { signingCertDer } : {}),
      ...(req.enrollment ? { enrollmentKeys: req.enrollment } : {}),
    };
  };
  const grub = async () => ({
    kernel: req.kernel,
    initramfs: req.initramfs,
    cmdline: req.cmdline,
    grubModules: await grubModules(),
  });
  switch (req.generator) {
    case "grub":
      await createGrubIso({ ...common, ...(await grub()) });
      return;
    case "uefi":
      await createUefiIso({ ...common, ...(await uefi()) });
      return;
    case "hybrid":
      await createHybridIso({ ...common, ...(await grub()), ...(await uefi()) });
      return;
  }
}

/** The stage set: overrides first, then the owning modules. */
export function resolveStages(overrides: Partial<Stages> = {}): Stages {
  return {
    rebuildInitramfs: overrides.rebuildInitramfs ?? rebuildInitramfsStage,
    buildIso: overrides.buildIso ?? buildIsoStage,
    buildImage: overrides.buildImage ?? buildImageStage,
    buildInstaller: overrides.buildInstaller ?? buildInstallerStage,
  };
}

/**
 * Default stage implementations: adapters onto the modules that own them (`imager/initramfs`,
 * `imager/iso`, and through `output-stages.ts` `imager/disk` and `imager/installer`).
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { unsupported } from "../../errors/index.js";
import { Quirks } from "../../profile/quirks.js";
import { rebuildInitramfs } from "../initramfs/rebuild.js";
import {
  createGrubIso,
  createHybridIso,
  createUefiIso,
  startIsoGroundwork,
  type GrubModuleDirs,
} from "../iso/iso.js";
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

/**
 * ISO generation (imager.md §6) as the pipeline calls it: the groundwork (GRUB images, config
 * files) is started at once, at a lower priority, while the build makes the rest.
 */
export async function buildIsoStage(req: IsoRequest): Promise<void> {
  const arch = isoArch(req.arch);
  const quirks = new Quirks(req.version);
  const optionalDir = (platform: string) => req.grubModules(platform).catch(() => undefined);
  const grubModules = async (): Promise<GrubModuleDirs> => {
    const [i386pc, efi] = await Promise.all([
      optionalDir("i386-pc"),
      optionalDir(arch === "amd64" ? "x86_64-efi" : "arm64-efi"),
    ]);
    return { ...(i386pc ? { i386pc } : {}), ...(efi ? { efi } : {}) };
  };
  const grub = req.generator !== "uefi" ? grubModules() : undefined;
  const groundwork = startIsoGroundwork({
    generator: req.generator,
    workDir: req.workDir,
    arch,
    quirks,
    sourceDateEpoch: req.sourceDateEpoch,
    cmdline: req.cmdline,
    ...(grub ? { grubModules: grub } : {}),
    secureBootEnroll: req.secureBootEnroll,
    background: true,
    log: req.progress,
    ...(req.signal ? { signal: req.signal } : {}),
  });
  try {
    const built = await req.built;
    const common = {
      output: built.out,
      workDir: req.workDir,
      version: req.version,
      quirks,
      arch,
      sourceDateEpoch: req.sourceDateEpoch,
      log: req.progress,
      groundwork,
      ...(req.onFinalTool ? { onFinalTool: req.onFinalTool } : {}),
      ...(built.imageCacheDir ? { imageCacheDir: built.imageCacheDir } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
    };
    const uefi = async () => {
      if (!built.uki || !built.sdBoot)
        throw unsupported("this Talos version has no UKI for a systemd-boot ISO");
      let signingCertDer: string | undefined;
      if (built.signerCertificateDer) {
        signingCertDer = join(req.workDir, "..", "uki-signing-cert.der");
        await writeFile(signingCertDer, built.signerCertificateDer);
      }
      return {
        sdBoot: built.sdBoot,
        uki: built.uki,
        ...(built.ukiWritten ? { ukiWritten: built.ukiWritten } : {}),
        secureBootEnroll: req.secureBootEnroll,
        ...(signingCertDer ? { signingCertDer } : {}),
        ...(built.enrollment ? { enrollmentKeys: built.enrollment } : {}),
      };
    };
    const grubInputs = async () => ({
      kernel: built.kernel,
      initramfs: built.initramfs,
      cmdline: req.cmdline,
      grubModules: (await grub) ?? {},
    });
    switch (req.generator) {
      case "grub":
        await createGrubIso({ ...common, ...(await grubInputs()) });
        return;
      case "uefi":
        await createUefiIso({ ...common, ...(await uefi()) });
        return;
      case "hybrid":
        await createHybridIso({ ...common, ...(await grubInputs()), ...(await uefi()) });
        return;
    }
  } finally {
    // Nothing started for the groundwork may still write into the work directory.
    await groundwork.settled;
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

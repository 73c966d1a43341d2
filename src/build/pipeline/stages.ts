/**
 * Default stage implementations: adapters onto the modules that own them (`build/initramfs`,
 * `build/iso`), and the part-2 stages (`build/disk`, `build/installer`) loaded when present. A
 * stage whose module is not part of this build fails as "unsupported" with a clear message.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { unsupported } from "../../errors/index.js";
import { Quirks } from "../../profile/quirks.js";
import { rebuildInitramfs } from "../initramfs/rebuild.js";
import { createGrubIso, createHybridIso, createUefiIso, type GrubModuleDirs } from "../iso/iso.js";
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
    extensions: req.extensions.map((e) => ({ dir: e.dir })),
    workDir: req.workDir,
    output: req.out,
    sourceDateEpoch: req.sourceDateEpoch,
    log: req.progress,
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
    ...(req.signal ? { signal: req.signal } : {}),
  };
  const optionalDir = (platform: string) => req.grubModules(platform).catch(() => undefined);
  const grubModules = async (): Promise<GrubModuleDirs> => {
    const i386pc = await optionalDir("i386-pc");
    const efi = await optionalDir(arch === "amd64" ? "x86_64-efi" : "arm64-efi");
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

type StageName = keyof Stages;

type LateStage = "buildImage" | "buildInstaller";

// Part-2 stages live on their own branches until merged; they are found by module path.
const MODULES: Record<LateStage, { spec: string; exportName: string; what: string }> = {
  buildImage: { spec: "../disk/index.js", exportName: "buildImage", what: "building disk images" },
  buildInstaller: {
    spec: "../installer/index.js",
    exportName: "buildInstaller",
    what: "building installer images",
  },
};

async function load(name: StageName): Promise<(req: never) => Promise<void>> {
  if (name === "rebuildInitramfs") return rebuildInitramfsStage;
  if (name === "buildIso") return buildIsoStage;
  const m = MODULES[name];
  try {
    // A computed specifier: the module may not exist in this build (it lands on its own branch).
    const mod = (await import(new URL(m.spec, import.meta.url).href)) as Record<string, unknown>;
    const fn = mod[m.exportName];
    if (typeof fn === "function") return fn as (req: never) => Promise<void>;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ERR_MODULE_NOT_FOUND") throw e;
  }
  throw unsupported(`${m.what} is not available in this Bootforge build`);
}

/** Fails early (unsupported) when a stage the build will need has no implementation. */
export async function requireStages(overrides: Partial<Stages>, names: readonly StageName[]): Promise<void> {
  for (const name of names) if (overrides[name] === undefined) await load(name);
}

/** The stage set: overrides first, then the owning modules. */
export function resolveStages(overrides: Partial<Stages> = {}): Stages {
  const pick = <K extends StageName>(name: K): Stages[K] =>
    overrides[name] ?? (async (req: never) => (await load(name))(req));
  return {
    rebuildInitramfs: pick("rebuildInitramfs"),
    buildIso: pick("buildIso"),
    buildImage: pick("buildImage"),
    buildInstaller: pick("buildInstaller"),
  };
}

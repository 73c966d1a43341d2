/**
 * Default stage implementations, loaded from the modules that own them (`build/initramfs`,
 * `build/iso`, `build/disk`, `build/installer`). A stage whose module is not part of this build
 * fails as "unsupported" with a clear message instead of breaking the whole pipeline at import.
 */
import { unsupported } from "../../errors/index.js";
import type { Stages } from "./types.js";

type StageName = keyof Stages;

const MODULES: Record<StageName, { spec: string; exportName: string; what: string }> = {
  rebuildInitramfs: {
    spec: "../initramfs/index.js",
    exportName: "rebuildInitramfs",
    what: "rebuilding the initramfs with system extensions",
  },
  buildIso: { spec: "../iso/index.js", exportName: "buildIso", what: "building ISO images" },
  buildImage: { spec: "../disk/index.js", exportName: "buildImage", what: "building disk images" },
  buildInstaller: {
    spec: "../installer/index.js",
    exportName: "buildInstaller",
    what: "building installer images",
  },
};

async function load(name: StageName): Promise<(req: never) => Promise<void>> {
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

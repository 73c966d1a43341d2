/**
 * The synthetic `modules.dep` extension (upstream `GenerateKernelModuleDependencyTreeExtension`):
 * the base rootfs's kernel modules plus every extension's, run through `depmod`, and only the
 * resulting `modules.*` index files kept as a layer that goes last.
 */
import { chmod, copyFile, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput, ioError } from "../../errors/index.js";
import type { Quirks } from "../../profile/quirks.js";
import type { ExtensionManifest } from "../extensions/manifest.js";
import { extractCpioMember } from "../formats/cpio.js";
import { kernelModulesPath } from "./layout.js";
import { run } from "../tools/run.js";

/** depmod configuration upstream ships as /etc/modules.d/10-extra-modules.conf. */
export const EXTRA_MODULES_CONF = "search extras built-in\n";

export interface ModulesDepOptions {
  /** The base initramfs (cpio of `init` + `rootfs.sqsh`, xz or zstd). */
  baseInitramfs: string;
  /** Each extension's `<rootfs>/<modules path>` directory, in layer order. */
  moduleDirs: readonly string[];
  quirks: Quirks;
  /** Scratch directory owned by this step (created, left for the caller to remove). */
  workDir: string;
  signal?: AbortSignal;
}

export interface ModulesDepExtension {
  /** Root of the layer (its `rootfs`). */
  rootfs: string;
  manifest: ExtensionManifest;
  kernelVersion: string;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

async function copyMerge(src: string, dest: string): Promise<void> {
  const st = await stat(src);
  if (st.isDirectory()) {
    await mkdir(dest, { recursive: true });
    for (const name of await readdir(src)) await copyMerge(join(src, name), join(dest, name));
  } else {
    await copyFile(src, dest);
    await chmod(dest, st.mode & 0o777);
  }
}

/** Whether an extension rootfs ships kernel modules for this version's layout. */
export async function providesKernelModules(rootfs: string, quirks: Quirks): Promise<boolean> {
  return stat(join(rootfs, kernelModulesPath(quirks))).then(
    () => true,
    () => false,
  );
}

/** Builds the `modules.dep` layer tree under `workDir/modules.dep`. */
export async function buildModulesDepExtension(options: ModulesDepOptions): Promise<ModulesDepExtension> {
  const { quirks, workDir } = options;
  const modPath = kernelModulesPath(quirks);
  await mkdir(workDir, { recursive: true });
  const rootfsSqsh = join(workDir, "rootfs.sqsh");
  await extractCpioMember(options.baseInitramfs, "rootfs.sqsh", rootfsSqsh);

  const tree = join(workDir, "modules");
  await run("unsquashfs", ["-no-xattrs", "-d", tree, "-f", "-n", rootfsSqsh, `/${modPath}`], {
    errorKind: "invalid-input",
    timeoutMs: 10 * 60 * 1000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  await rm(rootfsSqsh, { force: true });

  const modulesRoot = join(tree, modPath);
  const versions = await readdir(modulesRoot, { withFileTypes: true }).catch(() => []);
  if (versions.length !== 1 || !versions[0]!.isDirectory()) {
    throw invalidInput(
      `invalid kernel modules path in the base initramfs: /${modPath} must hold exactly one kernel version directory`,
    );
  }
  const kver = versions[0]!.name;

  for (const dir of options.moduleDirs) {
    const src = join(dir, kver);
    if (!(await isDir(src))) {
      throw invalidInput(`copying kernel modules from ${dir} failed: no modules for kernel ${kver}`);
    }
    try {
      await copyMerge(src, join(modulesRoot, kver));
    } catch (e) {
      throw ioError(`copying kernel modules from ${dir} failed: ${(e as Error).message}`, { cause: e });
    }
  }

  const conf = join(workDir, "10-extra-modules.conf");
  await writeFile(conf, EXTRA_MODULES_CONF);
  // depmod looks under <basedir>/lib/modules, so the base is the modules path minus that suffix.
  const baseDir = modulesRoot.replace(/\/lib\/modules$/, "");
  await run("depmod", ["--all", "--basedir", baseDir, "--config", conf, kver], {
    errorKind: "invalid-input",
    timeoutMs: 10 * 60 * 1000,
    ...(options.signal ? { signal: options.signal } : {}),
  });

  const rootfs = join(workDir, "modules.dep");
  const dest = join(rootfs, modPath, kver);
  let cur = rootfs;
  for (const part of ["", ...modPath.split("/"), kver]) {
    cur = part === "" ? cur : join(cur, part);
    await mkdir(cur, { recursive: true });
    await chmod(cur, 0o755);
  }
  for (const entry of await readdir(join(modulesRoot, kver), { withFileTypes: true })) {
    if (entry.isDirectory() || !entry.name.startsWith("modules.")) continue;
    await rename(join(modulesRoot, kver, entry.name), join(dest, entry.name));
  }
  await rm(tree, { recursive: true, force: true });

  return {
    rootfs,
    kernelVersion: kver,
    manifest: {
      version: kver,
      metadata: {
        name: "modules.dep",
        version: kver,
        author: "Talos Machinery",
        description: "Combined modules.dep for all extensions",
        compatibility: { talos: { version: "" } },
      },
    },
  };
}

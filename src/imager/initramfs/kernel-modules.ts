/**
 * The synthetic `modules.dep` extension (upstream `GenerateKernelModuleDependencyTreeExtension`):
 * the base rootfs's kernel modules plus every extension's, run through `depmod`, and only the
 * resulting `modules.*` index files kept as a layer that goes last.
 */
import { constants } from "node:fs";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join, relative } from "node:path";
import { BootforgeError, invalidInput, ioError } from "../../errors/index.js";
import type { Quirks } from "../../profile/quirks.js";
import type { ExtensionManifest } from "../../release/extensions/manifest.js";
import { extractCpioMember, locateCpioMember } from "./cpio-file.js";
import { isInside, realPathOrUndefined, resolveInside } from "./contained.js";
import { kernelModulesPath } from "./layout.js";
import { run } from "../tools/run.js";

/** depmod configuration upstream ships as /etc/modules.d/10-extra-modules.conf. */
export const EXTRA_MODULES_CONF = "search extras built-in\n";

export interface ModulesDepOptions {
  /** The base initramfs (cpio of `init` + `rootfs.sqsh`, xz or zstd). */
  baseInitramfs: string;
  /** Extensions providing kernel modules, in layer order: their rootfs and a name for errors. */
  sources: readonly { rootfs: string; name: string }[];
  quirks: Quirks;
  /** Scratch directory owned by this step (created, left for the caller to remove). */
  workDir: string;
  /** The base modules tree, when the caller extracted it ahead (see `extractBaseModules`). */
  base?: Promise<BaseModules | undefined>;
  signal?: AbortSignal;
}

export interface ModulesDepExtension {
  /** Root of the layer (its `rootfs`). */
  rootfs: string;
  manifest: ExtensionManifest;
  kernelVersion: string;
}

/**
 * Copies an extension's modules into the depmod tree without following symlinks on either side:
 * symlinks are recreated verbatim (and checked once the tree is complete), and nothing is written
 * through a symlink an earlier extension put there. `links` collects the symlinks created.
 */
async function copyMerge(
  src: string,
  dest: string,
  owner: string,
  root: string,
  links: Map<string, string>,
): Promise<void> {
  const st = await lstat(src);
  const rel = relative(root, src);
  const existing = await lstat(dest).catch(() => undefined);
  const conflict = (): BootforgeError =>
    invalidInput(`${owner}: ${rel} conflicts with a different kind of entry already in the modules tree`);
  if (st.isDirectory()) {
    if (existing === undefined) await mkdir(dest);
    else if (!existing.isDirectory()) throw conflict();
    for (const name of await readdir(src))
      await copyMerge(join(src, name), join(dest, name), owner, root, links);
    return;
  }
  if (existing?.isDirectory()) throw conflict();
  if (existing !== undefined) await rm(dest);
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
    links.set(dest, `${owner}: ${rel}`);
  } else if (st.isFile()) {
    await copyFile(src, dest, constants.COPYFILE_EXCL);
    await chmod(dest, st.mode & 0o777);
  } else {
    throw invalidInput(`${owner}: ${rel} is not a regular file, directory or symlink`);
  }
}

/** Whether an extension rootfs ships kernel modules for this version's layout. */
export async function providesKernelModules(rootfs: string, quirks: Quirks, name = rootfs): Promise<boolean> {
  // A modules directory that is a symlink leading out of the extension is refused, not followed.
  return (
    (await resolveInside(rootfs, kernelModulesPath(quirks), `extension ${JSON.stringify(name)}`)) !==
    undefined
  );
}

/** The base rootfs's kernel modules, extracted: the tree depmod runs on. */
export interface BaseModules {
  /** Root of the extracted tree (removed by whoever owns `workDir`). */
  tree: string;
  /** `<tree>/<kernel modules path>`. */
  modulesRoot: string;
  /** The one kernel version directory under it. */
  kernelVersion: string;
}

/** Where the base rootfs squashfs lies: a file, at an offset. */
export interface RootfsLocation {
  path: string;
  offset: number;
}

/**
 * Finds the base initramfs's rootfs squashfs, decompressing the archive into `workDir` (created)
 * when it is compressed. Depends on the release alone, so a build can start it before it knows
 * whether it needs the modules (and stop it through `signal` when it does not).
 */
export async function locateBaseRootfs(options: {
  baseInitramfs: string;
  workDir: string;
  signal?: AbortSignal;
}): Promise<RootfsLocation> {
  const { workDir } = options;
  await mkdir(workDir, { recursive: true });
  // The rootfs squashfs is read where it lies: in the base initramfs (decompressed by the tool,
  // file to file), at its offset. Unusual archive layouts get the member copied out instead.
  const decompressed = join(workDir, "initramfs.cpio");
  const found = await locateCpioMember(options.baseInitramfs, "rootfs.sqsh", decompressed, options.signal);
  if (found !== undefined) return { path: found.path, offset: found.offset };
  const rootfsSqsh = join(workDir, "rootfs.sqsh");
  await extractCpioMember(options.baseInitramfs, "rootfs.sqsh", rootfsSqsh);
  return { path: rootfsSqsh, offset: 0 };
}

/**
 * Extracts `/usr/lib/modules` (the layout's path) of the base initramfs's rootfs into
 * `workDir/modules`, from `located` when the caller started `locateBaseRootfs` itself.
 */
export async function extractBaseModules(options: {
  baseInitramfs: string;
  quirks: Quirks;
  workDir: string;
  located?: Promise<RootfsLocation>;
  signal?: AbortSignal;
}): Promise<BaseModules> {
  const { quirks, workDir } = options;
  const modPath = kernelModulesPath(quirks);
  const squashfs = await (options.located ??
    locateBaseRootfs({
      baseInitramfs: options.baseInitramfs,
      workDir,
      ...(options.signal ? { signal: options.signal } : {}),
    }));

  const tree = join(workDir, "modules");
  const at = squashfs.offset > 0 ? ["-o", String(squashfs.offset)] : [];
  await run("unsquashfs", ["-no-xattrs", ...at, "-d", tree, "-f", "-n", squashfs.path, `/${modPath}`], {
    errorKind: "invalid-input",
    timeoutMs: 10 * 60 * 1000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // The decompressed archive stays until `workDir` goes: removing it here would only delay depmod.

  const modulesRoot = join(tree, modPath);
  const versions = await readdir(modulesRoot, { withFileTypes: true }).catch(() => []);
  if (versions.length !== 1 || !versions[0]!.isDirectory()) {
    throw invalidInput(
      `invalid kernel modules path in the base initramfs: /${modPath} must hold exactly one kernel version directory`,
    );
  }
  return { tree, modulesRoot, kernelVersion: versions[0]!.name };
}

/**
 * Copies every module-providing extension's modules into the base tree, then checks that no
 * symlink they brought leads out of it.
 */
async function mergeModules(
  sources: ModulesDepOptions["sources"],
  modPath: string,
  kver: string,
  tree: string,
  modulesRoot: string,
): Promise<void> {
  const links = new Map<string, string>();
  for (const { rootfs: extRoot, name } of sources) {
    const owner = `extension ${JSON.stringify(name)}`;
    const src = await resolveInside(extRoot, `${modPath}/${kver}`, owner);
    if (src === undefined || !(await lstat(src)).isDirectory()) {
      throw invalidInput(`copying kernel modules of ${owner} failed: no modules for kernel ${kver}`);
    }
    try {
      await copyMerge(src, join(modulesRoot, kver), owner, extRoot, links);
    } catch (e) {
      if (e instanceof BootforgeError) throw e;
      throw ioError(`copying kernel modules of ${owner} failed: ${(e as Error).message}`, { cause: e });
    }
  }
  // depmod reads through symlinks, so every one an extension brought must resolve inside the
  // tree. Checked once all are in place: a later extension's link can redirect an earlier one's.
  const realTree = await realPathOrUndefined(tree);
  for (const [link, what] of links) {
    const real = await realPathOrUndefined(link);
    if (real !== undefined && (realTree === undefined || !isInside(realTree, real)))
      throw invalidInput(`${what} is a symlink leading outside the extension's kernel modules tree`);
  }
}

/** `root` and each of `parts` below it, created with mode 0755 whatever the umask. */
async function layerDirs(root: string, parts: readonly string[]): Promise<void> {
  await mkdir(join(root, ...parts), { recursive: true });
  let cur = root;
  const all = [root];
  for (const part of parts) all.push((cur = join(cur, part)));
  await Promise.all(all.map((d) => chmod(d, 0o755)));
}

/** Builds the `modules.dep` layer tree under `workDir/modules.dep`. */
export async function buildModulesDepExtension(options: ModulesDepOptions): Promise<ModulesDepExtension> {
  const { quirks, workDir } = options;
  const modPath = kernelModulesPath(quirks);
  await mkdir(workDir, { recursive: true });
  const {
    tree,
    modulesRoot,
    kernelVersion: kver,
  } = (await options.base) ??
  (await extractBaseModules({
    baseInitramfs: options.baseInitramfs,
    quirks,
    workDir,
    ...(options.signal ? { signal: options.signal } : {}),
  }));

  const conf = join(workDir, "10-extra-modules.conf");
  const rootfs = join(workDir, "modules.dep");
  const dest = join(rootfs, modPath, kver);
  // Written while the modules are merged and depmod runs: only the index files move in after.
  const confWritten = writeFile(conf, EXTRA_MODULES_CONF);
  const dirsMade = layerDirs(rootfs, [...modPath.split("/"), kver]);
  try {
    await mergeModules(options.sources, modPath, kver, tree, modulesRoot);
    await confWritten;
    // depmod looks under <basedir>/lib/modules, so the base is the modules path minus that suffix.
    const baseDir = modulesRoot.replace(/\/lib\/modules$/, "");
    await run("depmod", ["--all", "--basedir", baseDir, "--config", conf, kver], {
      errorKind: "invalid-input",
      timeoutMs: 10 * 60 * 1000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await dirsMade;
  } finally {
    // Nothing started here may still write into the work directory once this returns.
    await Promise.allSettled([confWritten, dirsMade]);
  }
  // Regular files only (upstream's rule): a symlink named modules.* is never carried over.
  const indexes = (await readdir(join(modulesRoot, kver), { withFileTypes: true })).filter(
    (e) => e.isFile() && e.name.startsWith("modules."),
  );
  await Promise.all(indexes.map((e) => rename(join(modulesRoot, kver, e.name), join(dest, e.name))));
  // The rest of the base tree goes with the work directory: not on the build's critical path.

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

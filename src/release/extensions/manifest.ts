/**
 * System extension images: the flattened image root holds exactly `manifest.yaml` and `rootfs/`.
 * Loading checks that shape and the manifest; validation checks the Talos version constraint
 * (and optionally the allowed content paths, which the upstream imager does not enforce).
 * Messages are upstream's, so users can search them.
 */
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { invalidInput } from "../../errors/index.js";
import type { TalosVersion } from "../../profile/version.js";
import { parseVersionRange } from "./version-range.js";

/** `metadata` of an extension manifest. */
export interface ExtensionMetadata {
  name: string;
  version: string;
  author: string;
  description: string;
  compatibility: { talos: { version: string } };
  extraInfo?: string;
}

export interface ExtensionManifest {
  version: string;
  metadata: ExtensionMetadata;
}

export interface LoadedExtension {
  readonly dir: string;
  readonly rootfs: string;
  readonly manifest: ExtensionManifest;
}

function str(v: unknown): string {
  if (typeof v === "string") return v;
  // YAML may type a version like `1.0` as a number; keep its text form.
  return typeof v === "number" || typeof v === "boolean" ? String(v) : "";
}

/** Manifests parsed before, by their text: a build reads each one several times. */
const parsed = new Map<string, ExtensionManifest>();
const PARSED_LIMIT = 256;

/** Parses `manifest.yaml` text (each caller gets its own copy). */
export function parseManifest(text: string): ExtensionManifest {
  let m = parsed.get(text);
  if (m === undefined) {
    m = parseManifestText(text);
    if (parsed.size >= PARSED_LIMIT) parsed.delete(parsed.keys().next().value!);
    parsed.set(text, m);
  }
  return {
    version: m.version,
    metadata: { ...m.metadata, compatibility: { talos: { ...m.metadata.compatibility.talos } } },
  };
}

function parseManifestText(text: string): ExtensionManifest {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw invalidInput(`extension manifest: ${doc.errors[0]!.message}`);
  const data = (doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof data !== "object" || Array.isArray(data))
    throw invalidInput("extension manifest: expected a mapping");
  const version = str(data.version);
  if (version !== "v1alpha1") throw invalidInput(`unsupported manifest version: ${JSON.stringify(version)}`);
  const md = (data.metadata ?? {}) as Record<string, unknown>;
  const compat = ((md.compatibility ?? {}) as Record<string, unknown>).talos as
    Record<string, unknown> | undefined;
  const metadata: ExtensionMetadata = {
    name: str(md.name),
    version: str(md.version),
    author: str(md.author),
    description: str(md.description),
    compatibility: { talos: { version: str(compat?.version) } },
  };
  if (md.extraInfo !== undefined) metadata.extraInfo = str(md.extraInfo);
  return { version, metadata };
}

/** Loads an extracted extension directory (exactly `manifest.yaml` + `rootfs/`). */
export async function loadExtension(dir: string): Promise<LoadedExtension> {
  const entries = (await readdir(dir)).sort();
  for (const e of entries) {
    if (e !== "manifest.yaml" && e !== "rootfs") throw invalidInput(`unexpected file ${JSON.stringify(e)}`);
  }
  if (!entries.includes("manifest.yaml")) throw invalidInput("extension manifest is missing");
  // A manifest symlinked elsewhere would make us read (and maybe echo) a host file.
  const mst = await lstat(join(dir, "manifest.yaml"));
  if (!mst.isFile()) throw invalidInput("extension manifest.yaml is not a regular file");
  if (mst.size > 1024 * 1024) throw invalidInput("extension manifest.yaml is larger than 1 MiB");
  const manifest = parseManifest(await readFile(join(dir, "manifest.yaml"), "utf8"));
  const rootfs = join(dir, "rootfs");
  const st = await lstat(rootfs).catch(() => undefined);
  if (st === undefined || !st.isDirectory()) throw invalidInput("extension rootfs is missing");
  return { dir, rootfs, manifest };
}

/** Paths an extension may ship (upstream `AllowedPaths`). */
export const ALLOWED_PATHS: readonly string[] = [
  "/etc/cri/conf.d",
  "/usr/lib/firmware",
  "/usr/lib/modules",
  "/usr/lib/ld-linux-x86-64.so.2",
  "/usr/lib/ld-linux-aarch64.so.1",
  "/usr/bin/ldconfig",
  "/etc/ld.so.conf",
  "/etc/ld.so.cache",
  "/usr/bin/nvidia-modprobe",
  "/usr/bin/nvidia-pcc",
  "/usr/bin/nvidia-smi",
  "/usr/bin/nvidia-ctk",
  "/usr/bin/nvidia-cdi-hook",
  "/usr/bin/nvme",
  "/usr/lib/udev/rules.d",
  "/usr/local",
  "/usr/share/glvnd",
  "/usr/share/egl",
  "/etc/vulkan",
];

function allowed(path: string): boolean {
  return ALLOWED_PATHS.some((a) => path === a || path.startsWith(`${a}/`));
}

/** Checks the manifest's Talos constraint against the core version (prerelease ignored). */
export function checkCompatibility(manifest: ExtensionManifest, talos: TalosVersion): void {
  const c = manifest.metadata.compatibility.talos.version;
  if (c === "") return;
  const core = { ...talos, prerelease: "" };
  if (!parseVersionRange(c).matches(core)) {
    throw invalidInput(
      `version constraint ${c} can't be satisfied with Talos version ${core.major}.${core.minor}.${core.patch}`,
    );
  }
}

/** Checks the rootfs content rules (allowed paths; regular files, directories and symlinks only; nothing world-writable). */
export async function checkContents(ext: LoadedExtension): Promise<void> {
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(ext.rootfs, rel))).sort()) {
      const r = `${rel}/${name}`;
      const st = await lstat(join(ext.rootfs, r));
      if (!st.isDirectory() && !allowed(r))
        throw invalidInput(`path ${JSON.stringify(r)} is not allowed in extensions`);
      if (!st.isFile() && !st.isDirectory() && !st.isSymbolicLink())
        throw invalidInput(`path ${JSON.stringify(r)} is not a regular file, directory or symlink`);
      if (!st.isSymbolicLink() && (st.mode & 0o002) !== 0)
        throw invalidInput(`path ${JSON.stringify(r)} is world-writable`);
      if (st.isDirectory()) await walk(r);
    }
  };
  await walk("");
}

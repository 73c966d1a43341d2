/**
 * Virtual extensions the pipeline adds as the last extensions: the imager's `embedded-config`
 * (pkg/imager/embed.go) and the Image Factory's `schematic` (internal/artifacts/schematic.go).
 * Each comes as a tar (what upstream hands to its extractor) or directly as an extracted
 * directory ready for `rebuildInitramfs`.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pack } from "tar-stream";
import { ioError } from "../../errors/index.js";
import { marshal, type YamlValue } from "../../yaml/emit.js";
import type { ExtensionManifest } from "../../release/extensions/manifest.js";
import type { ExtensionInput } from "./rebuild.js";
import { metadataValue } from "./extensions-yaml.js";

/** SELinux label upstream gives the embedded machine config (`constants.StateSelinuxLabel`). */
export const STATE_SELINUX_LABEL = "system_u:object_r:system_state_t:s0";
const EMBEDDED_CONFIG_DIR = "usr/local/etc/talos";
const SCHEMATIC_DIR = "usr/local/share/schematic";

/** A member of a virtual extension, in upstream's tar order. */
interface Member {
  name: string;
  type: "file" | "directory";
  mode: number;
  data?: Uint8Array;
  selinux?: string;
}

/** `yaml.Marshal` of an extension manifest (go-yaml v4: 4-space indent). */
export function manifestYaml(m: ExtensionManifest): string {
  const value: YamlValue = { version: m.version, metadata: metadataValue(m.metadata) };
  return marshal(value);
}

function dirChain(path: string): Member[] {
  const parts = path.split("/");
  return ["rootfs", ...parts.map((_, i) => `rootfs/${parts.slice(0, i + 1).join("/")}`)].map((name) => ({
    name,
    type: "directory" as const,
    mode: 0o755,
  }));
}

/** Manifest of the `embedded-config` extension for this machine configuration. */
export function embeddedConfigManifest(config: Uint8Array): ExtensionManifest {
  return {
    version: "v1alpha1",
    metadata: {
      name: "embedded-config",
      version: createHash("sha256").update(config).digest("hex"),
      author: "Imager",
      description: "Virtual extension which embeds the machine configuration.",
      compatibility: { talos: { version: ">= 1.0.0" } },
    },
  };
}

function embeddedConfigMembers(config: Uint8Array): Member[] {
  return [
    {
      name: "manifest.yaml",
      type: "file",
      mode: 0o644,
      data: Buffer.from(manifestYaml(embeddedConfigManifest(config))),
    },
    ...dirChain(EMBEDDED_CONFIG_DIR),
    {
      name: `rootfs/${EMBEDDED_CONFIG_DIR}/config.yaml`,
      type: "file",
      mode: 0o400,
      data: config,
      selinux: STATE_SELINUX_LABEL,
    },
  ];
}

export interface SchematicExtensionOptions {
  /** The schematic ID (sha256 of the canonical YAML). */
  id: string;
  /** The canonical schematic YAML, stored as `extraInfo`. */
  canonicalYaml: string;
  /** The factory's external URL, shown in `author`. */
  externalUrl: string;
  /** Whether to include `extraInfo` (Talos ≥ 1.7, `Quirks.supportsOverlay`). */
  includeExtraInfo: boolean;
  /** Product name in `author` (upstream: "Image Factory"; enterprise: "Image Factory Enterprise"). */
  product?: string;
}

/** Manifest of the factory's `schematic` extension. */
export function schematicManifest(o: SchematicExtensionOptions): ExtensionManifest {
  return {
    version: "v1alpha1",
    metadata: {
      name: "schematic",
      version: o.id,
      author: `${o.product ?? "Image Factory"} (${o.externalUrl})`,
      description: "Virtual extension which specifies the schematic of the image built with schematic.",
      compatibility: { talos: { version: ">= 1.0.0" } },
      ...(o.includeExtraInfo ? { extraInfo: o.canonicalYaml } : {}),
    },
  };
}

function schematicMembers(o: SchematicExtensionOptions): Member[] {
  return [
    {
      name: "manifest.yaml",
      type: "file",
      mode: 0o644,
      data: Buffer.from(manifestYaml(schematicManifest(o))),
    },
    ...dirChain(SCHEMATIC_DIR),
    { name: `rootfs/${SCHEMATIC_DIR}/${o.id}`, type: "file", mode: 0o644, data: new Uint8Array(0) },
  ];
}

async function toTar(members: readonly Member[], mtime: number): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    p.once("end", resolve);
    p.once("error", reject);
  });
  for (const m of members) {
    const header = {
      name: m.name,
      type: m.type,
      mode: m.mode,
      mtime: new Date(mtime * 1000),
      uid: 0,
      gid: 0,
      ...(m.selinux ? { pax: { "SCHILY.xattr.security.selinux": m.selinux } } : {}),
    };
    if (m.type === "file") p.entry(header, Buffer.from(m.data ?? new Uint8Array(0)));
    else p.entry(header);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function toDir(members: readonly Member[], dir: string): Promise<ExtensionInput> {
  try {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    const labels: Record<string, string> = {};
    for (const m of members) {
      const path = join(dir, m.name);
      if (m.type === "directory") await mkdir(path);
      else await writeFile(path, m.data ?? new Uint8Array(0));
      await chmod(path, m.mode);
      if (m.selinux) labels[m.name.replace(/^rootfs\//, "")] = m.selinux;
    }
    return { dir, labels };
  } catch (e) {
    throw ioError(`writing virtual extension ${dir}: ${(e as Error).message}`, { cause: e });
  }
}

/** The `embedded-config` extension as a tar (entry order and modes as upstream; mtimes = `mtime`). */
export function embeddedConfigExtensionTar(config: Uint8Array, mtime: number): Promise<Buffer> {
  return toTar(embeddedConfigMembers(config), mtime);
}

/** The `embedded-config` extension extracted into `dir`, with its SELinux label recorded. */
export function writeEmbeddedConfigExtension(dir: string, config: Uint8Array): Promise<ExtensionInput> {
  return toDir(embeddedConfigMembers(config), dir);
}

/** The factory's `schematic` extension as a tar. */
export function schematicExtensionTar(o: SchematicExtensionOptions, mtime: number): Promise<Buffer> {
  return toTar(schematicMembers(o), mtime);
}

/** The factory's `schematic` extension extracted into `dir`. */
export function writeSchematicExtension(dir: string, o: SchematicExtensionOptions): Promise<ExtensionInput> {
  return toDir(schematicMembers(o), dir);
}

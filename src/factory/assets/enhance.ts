/**
 * Upstream `EnhanceFromSchematic`: what a schematic contributes to an asset's profile, per output
 * kind (image-factory.md §3.3), with the per-version checks that are 400s: unknown extensions
 * (after upstream's name aliases), unknown overlays, overlays before 1.7, embedded machine
 * configuration before 1.12, SecureBoot when the factory has no keys.
 */
import { BootforgeError } from "../../errors/index.js";
import type { Profile } from "../../profile/index.js";
import { parseSDBootEnrollKeys, type SDBootEnrollKeys } from "../../profile/model.js";
import { atLeast } from "../../profile/version.js";
import type { ExtensionEntry, OverlayEntry } from "../../release/catalogs.js";
import type { ServedVersion } from "../../release/versions.js";
import type { Schematic } from "../../schematic/index.js";
import { GoFloat, GoMap, GoTime, type YamlValue } from "../../yaml/emit.js";
import type { OverlayOptionValue } from "../../profile/model.js";

/** Upstream `ExtensionNameAlias`: old names still accepted in schematics. */
export const EXTENSION_ALIASES: Readonly<Record<string, string>> = {
  "siderolabs/v4l-uvc": "siderolabs/v4l-uvc-drivers",
  "siderolabs/usb-modem": "siderolabs/usb-modem-drivers",
  "siderolabs/gasket": "siderolabs/gasket-driver",
  "siderolabs/talos-vmtoolsd": "siderolabs/vmtoolsd-guest-agent",
  "siderolabs/xe-guest-utilities": "siderolabs/xen-guest-agent",
  "siderolabs/nvidia-container-toolkit": "siderolabs/nvidia-container-toolkit-lts",
  "siderolabs/nvidia-open-gpu-kernel-modules": "siderolabs/nvidia-open-gpu-kernel-modules-lts",
  "siderolabs/nonfree-kmod-nvidia": "siderolabs/nonfree-kmod-nvidia-lts",
  "siderolabs/nvidia-fabricmanager": "siderolabs/nvidia-fabric-manager-lts",
  "siderolabs/i915-ucode": "siderolabs/i915",
  "siderolabs/amdgpu-firmware": "siderolabs/amdgpu",
};

/** What an asset build needs beyond its profile. */
export interface Enhanced {
  profile: Profile;
  /** Official extensions in schematic order (the virtual `schematic` extension is added by the pipeline). */
  extensions: ExtensionEntry[];
  overlay: OverlayEntry | undefined;
  /** True when the virtual `schematic` extension belongs in the output (every kind but kernel/cmdline). */
  schematicExtension: boolean;
}

/** Catalog lookups enhancement needs (only called for kinds that carry extensions). */
export interface Catalogs {
  extensions(): Promise<ExtensionEntry[]>;
  overlays(): Promise<OverlayEntry[]>;
}

/** Resolves an extension name with upstream's alias fallback, or undefined. */
export function findExtension(catalog: readonly ExtensionEntry[], name: string): ExtensionEntry | undefined {
  const direct = catalog.find((e) => e.name === name);
  if (direct !== undefined) return direct;
  const alias = EXTENSION_ALIASES[name];
  return alias === undefined ? undefined : catalog.find((e) => e.name === alias);
}

/** Applies the schematic to the asset profile parsed from the path. */
export async function enhanceFromSchematic(
  base: Profile,
  schematic: Schematic,
  version: ServedVersion,
  catalogs: Catalogs,
  secureBootEnabled: boolean,
): Promise<Enhanced> {
  const kind = base.output?.kind;
  const profile: Profile = structuredClone(base);
  profile.version = version.tag;
  profile.name = "Talos";
  const c = schematic.customization;
  const sb = profile.secureboot === true;
  if (sb && !secureBootEnabled) throw new BootforgeError("invalid-input", "secure boot is disabled");

  const out: Enhanced = { profile, extensions: [], overlay: undefined, schematicExtension: false };
  if (kind === "kernel") return out;

  const cust: NonNullable<Profile["customization"]> = {};
  const argsApply =
    kind === "cmdline" ||
    kind === "iso" ||
    kind === "image" ||
    ((kind === "uki" || kind === "installer") && (sb || atLeast(version.version, 1, 10)));
  if (argsApply && c.extraKernelArgs.length > 0) cust.extraKernelArgs = [...c.extraKernelArgs];
  if ((kind === "cmdline" || kind === "iso" || kind === "image") && c.meta.length > 0) {
    cust.metaContents = c.meta.map((m) => ({ key: m.key, value: m.value }));
  }
  if (kind === "cmdline") {
    if (Object.keys(cust).length > 0) profile.customization = cust;
    // The overlay's installer contributes kernel args (`get-options`), so the command line of an
    // overlay schematic is the one its disk image boots with (upstream leaves them out here).
    await applyOverlay(profile, schematic, version, catalogs, out);
    return out;
  }

  if (c.embeddedMachineConfiguration !== "") {
    if (!atLeast(version.version, 1, 12)) {
      throw new BootforgeError(
        "invalid-input",
        `embedded machine configuration is not supported for Talos version ${version.tag} (needs >= v1.12.0)`,
      );
    }
    cust.embeddedMachineConfiguration = c.embeddedMachineConfiguration;
  }
  if (Object.keys(cust).length > 0) profile.customization = cust;

  const names = c.systemExtensions.officialExtensions;
  if (names.length > 0) {
    const catalog = await catalogs.extensions();
    const missing: string[] = [];
    for (const n of names) {
      const e = findExtension(catalog, n);
      if (e === undefined) missing.push(n);
      else out.extensions.push(e);
    }
    if (missing.length === 1) {
      throw new BootforgeError(
        "invalid-input",
        `official extension ${JSON.stringify(missing[0])} is not available for Talos version ${version.tag}`,
      );
    }
    if (missing.length > 1) {
      throw new BootforgeError(
        "invalid-input",
        `official extensions ${missing.map((m) => JSON.stringify(m)).join(", ")} are not available for Talos version ${version.tag}`,
      );
    }
  }

  await applyOverlay(profile, schematic, version, catalogs, out);
  applyBootOptions(profile, schematic, kind, sb);
  out.schematicExtension = true;
  return out;
}

/**
 * The schematic's bootloader, disk sector size and SecureBoot choices (upstream applies them to
 * ISOs and disk images; well-known certificates to every SecureBoot asset).
 */
function applyBootOptions(
  profile: Profile,
  schematic: Schematic,
  kind: string | undefined,
  sb: boolean,
): void {
  const c = schematic.customization;
  const output = (profile.output ??= {});
  if (sb && c.secureboot.includeWellKnownCertificates) {
    profile.input = {
      ...profile.input,
      secureboot: { ...profile.input?.secureboot, includeWellKnownCerts: true },
    };
  }
  let enrollKeys: SDBootEnrollKeys | undefined;
  if (sb && c.secureboot.enrollKeys !== "") {
    try {
      enrollKeys = parseSDBootEnrollKeys(c.secureboot.enrollKeys);
    } catch (e) {
      throw new BootforgeError(
        "invalid-input",
        `invalid secureboot enrollKeys value ${JSON.stringify(c.secureboot.enrollKeys)}: ${(e as Error).message}`,
      );
    }
  }
  const bootloader = c.bootloader !== "none" ? c.bootloader : undefined;
  if (kind === "iso") {
    if (enrollKeys !== undefined) output.isoOptions = { ...output.isoOptions, sdBootEnrollKeys: enrollKeys };
    if (bootloader !== undefined) output.isoOptions = { ...output.isoOptions, bootloader };
  }
  if (kind === "image") {
    if (enrollKeys !== undefined)
      output.imageOptions = { ...output.imageOptions, sdBootEnrollKeys: enrollKeys };
    if (bootloader !== undefined) output.imageOptions = { ...output.imageOptions, bootloader };
    if (c.diskImage.sectorSize !== 0)
      output.imageOptions = { ...output.imageOptions, diskSectorSize: c.diskImage.sectorSize };
  }
}

/** Looks the schematic's overlay up in the version's catalog and puts it on the profile. */
async function applyOverlay(
  profile: Profile,
  schematic: Schematic,
  version: ServedVersion,
  catalogs: Catalogs,
  out: Enhanced,
): Promise<void> {
  const ov = schematic.overlay;
  if (ov.name !== "" || ov.image !== "") {
    if (!atLeast(version.version, 1, 7)) {
      throw new BootforgeError(
        "invalid-input",
        `overlays are not supported for Talos version ${version.tag} (needs >= v1.7.0)`,
      );
    }
    // Upstream looks overlays up by name only; the image is part of the ID, not of the lookup.
    const entry = (await catalogs.overlays()).find((o) => o.name === ov.name);
    if (entry === undefined) {
      throw new BootforgeError(
        "invalid-input",
        `official overlay ${JSON.stringify(ov.name)} is not available for Talos version ${version.tag}`,
      );
    }
    out.overlay = entry;
    profile.overlay = {
      name: ov.name,
      // Pinned by the catalog digest, as upstream pulls overlays (re-homed onto the release source).
      image: { imageRef: `${entry.ref}@${entry.digest}` },
      ...(ov.options !== null && ov.options.size > 0 ? { options: plainOptions(ov.options) } : {}),
    };
  }
}

/** Decoded YAML (GoMap and friends) as the profile's plain overlay option values. */
function plainValue(v: YamlValue): OverlayOptionValue {
  if (v instanceof GoMap) return plainOptions(v);
  if (Array.isArray(v)) return v.map(plainValue);
  if (v instanceof GoFloat) return v.value;
  if (v instanceof GoTime) return v.text;
  if (v === undefined) return null;
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainValue(x as YamlValue)]));
  }
  return v;
}

function plainOptions(m: GoMap): { [key: string]: OverlayOptionValue } {
  return Object.fromEntries(
    m.entries.map(([k, v]) => [
      typeof k === "object" && k !== null ? JSON.stringify(k) : String(k as string),
      plainValue(v),
    ]),
  );
}

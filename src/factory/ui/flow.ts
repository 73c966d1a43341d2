/**
 * Which step the wizard is on, decided from the parameters alone (as upstream does): the first
 * step whose choice is missing or invalid. Also validates a submitted step and loads what the
 * step needs from the backend (versions, catalogs, the stored schematic).
 */
import { parseAllDocuments } from "yaml";
import { isBootforgeError } from "../../errors/index.js";
import type { ExtensionEntry, OverlayEntry } from "../../release/catalogs.js";
import { cloudPlatformsFor, METAL_PLATFORM, type PlatformInfo } from "../../profile/platforms.js";
import { Quirks } from "../../profile/quirks.js";
import { compareVersions, parseTalosVersion } from "../../profile/version.js";
import type { UiBackend } from "./backend.js";
import { boardsFor, type Board } from "./boards.js";
import { checkKernelArgs } from "./kernel-args.js";
import { fieldsFromSchematic, parseOverlayOptions } from "./to-schematic.js";
import { groupVersions } from "./version-groups.js";
import { STEPS, type Step, type WizardParams } from "./wizard-params.js";

/** Hardware types of the first step. */
export const TARGETS = [
  { value: "metal", label: "Bare-metal Machine" },
  { value: "cloud", label: "Cloud Server" },
  { value: "sbc", label: "Single Board Computer" },
] as const;

/** Bootloader choices of the customization step (Talos ≥ 1.12.0-alpha.2). */
export const BOOTLOADERS = [
  { value: "auto", label: "Automatic", hint: "the imager picks the right one for the boot method" },
  { value: "sd-boot", label: "systemd-boot", hint: "UEFI only" },
  { value: "grub", label: "GRUB", hint: "BIOS only; not with SecureBoot" },
  { value: "dual-boot", label: "Dual boot", hint: "GRUB for BIOS and systemd-boot for UEFI" },
] as const;

/** Extensions the UI never lists (upstream hides the metal agent). */
const HIDDEN_EXTENSIONS = new Set(["siderolabs/metal-agent"]);

/** SBC overlays exist from Talos 1.7. */
export const SBC_MIN_VERSION = "1.7.0";

/** Where the wizard is and everything the page for it needs. */
export interface Resolved {
  step: Step;
  params: WizardParams;
  /** Problems to show on `step` (empty when none). */
  errors: string[];
  /** HTTP status for the page (400 bad input, 404 unknown version or schematic). */
  status: number;
  versions: string[];
  platform?: PlatformInfo;
  board?: Board;
  overlay?: OverlayEntry;
  /** The version's extension catalog, hidden entries removed. */
  catalog: ExtensionEntry[];
  schematic?: { id: string; yaml: string };
  /** Customization checked and ready to become a schematic. */
  ready: boolean;
}

/** Version gates the pages branch on. */
export function features(version: string) {
  const q = new Quirks(version);
  const v = parseTalosVersion(version);
  const atLeast = (min: string) => {
    const m = parseTalosVersion(min);
    return v !== undefined && m !== undefined && compareVersions(v, m) >= 0;
  };
  return {
    secureBoot: q.supportsUKI,
    overlay: q.supportsOverlay,
    unifiedInstaller: q.supportsUnifiedInstaller,
    embeddedConfig: q.supportsEmbeddedConfig,
    bootloader: atLeast("1.12.0-alpha.2"),
    localCluster: atLeast("1.12.0-alpha.2"),
  };
}

/** Boards offered for a version: catalogue entries whose overlay the version's catalog has. */
export function availableBoards(version: string, overlays: readonly OverlayEntry[]): Board[] {
  return boardsFor(version).filter((b) => overlays.some((o) => o.name === b.overlayName));
}

/** True when the platform offers SecureBoot for this version. */
export function secureBootOffered(p: WizardParams, platform: PlatformInfo | undefined): boolean {
  return p.version !== undefined && features(p.version).secureBoot && p.target !== "sbc" && platform?.secureBootSupported === true;
}

/** Resolves the step to show; `submitted` is the step a form post came from (checked strictly). */
export async function resolveStep(backend: UiBackend, input: WizardParams, submitted?: Step): Promise<Resolved> {
  const p: WizardParams = { ...input };
  const r: Resolved = { step: "target", params: p, errors: [], status: 200, versions: [], catalog: [], ready: false };
  const stop = (step: Step, error?: string, status = 400): Resolved => {
    r.step = step;
    if (error !== undefined) {
      r.errors.push(error);
      r.status = status;
    } else if (submitted === step) {
      // The form was posted without its choice (no-JS users can do that).
      r.errors.push(`Please make a choice to continue.`);
      r.status = 400;
    }
    return r;
  };

  if (p.target === undefined) return stop("target");
  if (!TARGETS.some((t) => t.value === p.target)) return stop("target", `Unknown hardware type "${p.target}".`);

  r.versions = await backend.versions();
  if (p.version === undefined) return stop("version");
  const tag = `v${p.version}`;
  if (!r.versions.includes(tag)) return stop("version", `Talos version ${p.version} is not available.`, 404);
  if (p.target === "sbc" && groupVersions([tag], SBC_MIN_VERSION).length === 0) {
    return stop("version", `Single board computers need Talos ${SBC_MIN_VERSION} or later.`);
  }

  if (p.target === "metal") {
    p.platform = METAL_PLATFORM.name;
    delete p.board;
    r.platform = METAL_PLATFORM;
  } else if (p.target === "cloud") {
    delete p.board;
    if (p.platform === undefined) return stop("platform");
    r.platform = cloudPlatformsFor(tag).find((x) => x.name === p.platform);
    if (r.platform === undefined) return stop("platform", `Platform "${p.platform}" is not offered for Talos ${p.version}.`);
  } else {
    const overlays = await backend.overlays(tag);
    if (p.board === undefined) return stop("platform");
    r.board = availableBoards(tag, overlays).find((b) => b.name === p.board);
    if (r.board === undefined) return stop("platform", `Board "${p.board}" is not available for Talos ${p.version}.`);
    r.overlay = overlays.find((o) => o.name === r.board?.overlayName);
    p.platform = METAL_PLATFORM.name;
    p.arch = "arm64";
    p.secureboot = false;
    r.platform = METAL_PLATFORM;
  }

  const platform = r.platform;
  if (p.arch === undefined && platform.architectures.length === 1) p.arch = platform.architectures[0];
  if (p.arch === undefined) return stop("arch");
  if (!platform.architectures.includes(p.arch as never)) {
    return stop("arch", `Architecture "${p.arch}" is not available for ${platform.label}.`);
  }
  if (p.secureboot && !secureBootOffered(p, platform)) {
    return stop("arch", `SecureBoot is not available for ${platform.label} on Talos ${p.version}.`);
  }

  r.catalog = (await backend.extensions(tag)).filter((e) => !HIDDEN_EXTENSIONS.has(e.name));

  if (p.schematicId !== undefined) {
    const yaml = /^[0-9a-f]{64}$/.test(p.schematicId) ? await backend.getSchematic(p.schematicId) : undefined;
    if (yaml === undefined) return stop("final", `Schematic ${p.schematicId} was not found.`, 404);
    r.schematic = { id: p.schematicId, yaml };
    const f = fieldsFromSchematic(yaml);
    Object.assign(p, {
      extensions: f.extensions,
      cmdline: f.cmdline,
      bootloader: f.bootloader,
      overlayOptions: f.overlayOptions,
      embeddedConfig: f.embeddedConfig,
    });
    r.step = "final";
    return r;
  }

  if (p.extensions === undefined) return stop("extensions");
  const unknown = p.extensions.filter((e) => !r.catalog.some((x) => x.name === e));
  if (unknown.length > 0) {
    return stop("extensions", `Not available for Talos ${p.version}: ${unknown.join(", ")}.`);
  }

  if (p.prefill !== undefined && submitted === undefined) {
    // Back from the result page: the stored schematic holds what the URL cannot (embedded config).
    const yaml = /^[0-9a-f]{64}$/.test(p.prefill) ? await backend.getSchematic(p.prefill) : undefined;
    if (yaml !== undefined) {
      const f = fieldsFromSchematic(yaml);
      Object.assign(p, { cmdline: f.cmdline, bootloader: f.bootloader, overlayOptions: f.overlayOptions, embeddedConfig: f.embeddedConfig });
    }
  }
  r.step = "customization";
  if (submitted !== "customization") return r;
  r.errors.push(...customizationErrors(p, r));
  if (r.errors.length > 0) r.status = 400;
  else r.ready = true;
  return r;
}

function customizationErrors(p: WizardParams, r: Resolved): string[] {
  const errors: string[] = [];
  const f = features(p.version ?? "");
  const args = checkKernelArgs(p.cmdline);
  if (!args.ok) errors.push(...args.errors.map((e) => `Kernel arguments: ${e}.`));
  if (!BOOTLOADERS.some((b) => b.value === p.bootloader)) errors.push(`Unknown bootloader "${p.bootloader}".`);
  else if (p.bootloader !== "auto" && !f.bootloader) errors.push(`Talos ${p.version} has no bootloader choice.`);
  else if (p.bootloader === "grub" && p.secureboot) errors.push("GRUB cannot boot with SecureBoot; pick another bootloader.");
  if (p.embeddedConfig.trim() !== "") {
    if (!f.embeddedConfig) errors.push(`Embedded machine configuration needs Talos 1.12 or later.`);
    else {
      const bad = parseAllDocuments(p.embeddedConfig).flatMap((d) => ("errors" in d ? d.errors : []));
      if (bad.length > 0) errors.push(`Embedded machine configuration is not valid YAML: ${bad[0]?.message.split("\n")[0]}`);
    }
  }
  if (r.board !== undefined) {
    try {
      parseOverlayOptions(p.overlayOptions);
    } catch (e) {
      errors.push(isBootforgeError(e) ? `Overlay options: ${e.message}.` : String(e));
    }
  } else if (p.overlayOptions.trim() !== "") {
    errors.push("Overlay options apply to single board computers only.");
  }
  return errors;
}

/** The step before `step` the user actually saw (skipping steps decided automatically). */
export function previousStep(r: Resolved, step: Step): Step | undefined {
  for (let i = STEPS.indexOf(step) - 1; i >= 0; i--) {
    const s = STEPS[i] as Step;
    if (s === "platform" && r.params.target === "metal") continue;
    if (s === "arch" && (r.params.target === "sbc" || (r.platform?.architectures.length === 1 && !secureBootOffered(r.params, r.platform))))
      continue;
    return s;
  }
  return undefined;
}

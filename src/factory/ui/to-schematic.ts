/**
 * Wizard choices ⇄ schematic, the way upstream's `ToSchematic` and `SetURLValuesFromSchematic`
 * do it: kernel args split on spaces, extensions sorted, the board's overlay with options parsed
 * from YAML, bootloader unless `auto`, embedded config as is.
 */
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { invalidInput } from "../../errors/index.js";
import type { Board } from "./boards.js";
import type { WizardParams } from "./wizard-params.js";

/** The schematic fields the wizard sets, in upstream's field order. */
export interface WizardSchematic {
  overlay?: { image: string; name: string; options?: Record<string, unknown> };
  customization: {
    embeddedMachineConfiguration?: string;
    extraKernelArgs?: string[];
    systemExtensions?: { officialExtensions: string[] };
    bootloader?: string;
  };
}

/** Parses the overlay-options field: empty, or a YAML mapping. */
export function parseOverlayOptions(text: string): Record<string, unknown> | undefined {
  if (text.trim() === "") return undefined;
  let data: unknown;
  try {
    data = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw invalidInput(`overlay options are not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (data === null || data === undefined) return undefined;
  if (typeof data !== "object" || Array.isArray(data)) {
    throw invalidInput("overlay options must be a YAML mapping (key: value lines)");
  }
  return Object.keys(data).length === 0 ? undefined : (data as Record<string, unknown>);
}

/** Builds the schematic for the wizard's choices (`board` set for SBCs on Talos ≥ 1.7). */
export function toSchematic(p: WizardParams, board: Board | undefined, overlayImage?: string): WizardSchematic {
  const s: WizardSchematic = { customization: {} };
  if (board !== undefined) {
    const options = parseOverlayOptions(p.overlayOptions);
    s.overlay = { image: overlayImage ?? board.overlayImage, name: board.overlayName };
    if (options !== undefined) s.overlay.options = options;
  }
  const c = s.customization;
  if (p.embeddedConfig.trim() !== "") c.embeddedMachineConfiguration = p.embeddedConfig;
  const args = p.cmdline.split(/\s+/).filter((a) => a !== "");
  if (args.length > 0) c.extraKernelArgs = args;
  const ext = [...new Set(p.extensions ?? [])].sort();
  if (ext.length > 0) c.systemExtensions = { officialExtensions: ext };
  if (p.bootloader !== "auto" && p.bootloader !== "") c.bootloader = p.bootloader;
  return s;
}

/** The schematic as a document for `POST /schematics` (JSON is YAML, and it is unambiguous). */
export function schematicDocument(s: WizardSchematic): string {
  return `${JSON.stringify(s, null, 2)}\n`;
}

/** The wizard fields a stored schematic implies (what the result page's Back pre-fills). */
export interface SchematicFields {
  extensions: string[];
  cmdline: string;
  bootloader: string;
  overlayOptions: string;
  embeddedConfig: string;
  overlay?: { image: string; name: string };
}

/** Reads the wizard fields back from canonical schematic YAML. */
export function fieldsFromSchematic(yamlText: string): SchematicFields {
  const doc = (parseYaml(yamlText) ?? {}) as {
    overlay?: { image?: string; name?: string; options?: unknown };
    customization?: {
      embeddedMachineConfiguration?: string;
      extraKernelArgs?: string[];
      systemExtensions?: { officialExtensions?: string[] };
      bootloader?: string;
    };
  };
  const c = doc.customization ?? {};
  const opts = doc.overlay?.options;
  const f: SchematicFields = {
    extensions: [...(c.systemExtensions?.officialExtensions ?? [])],
    cmdline: (c.extraKernelArgs ?? []).join(" "),
    bootloader: c.bootloader ?? "auto",
    overlayOptions: opts === undefined ? "" : stringifyYaml(opts),
    embeddedConfig: c.embeddedMachineConfiguration ?? "",
  };
  if (doc.overlay?.name !== undefined) f.overlay = { image: doc.overlay.image ?? "", name: doc.overlay.name };
  return f;
}

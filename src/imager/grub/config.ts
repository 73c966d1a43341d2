/**
 * GRUB configurations Talos writes: the A/B boot menu on disk images and installs (upstream
 * bootloader/grub `Config.Encode`) and the ISO's `boot/grub/grub.cfg` (pkg/imager/iso/grub.cfg).
 */
import { invalidInput } from "../../errors/index.js";
import { grubQuote } from "./quote.js";

/** A boot slot. */
export type BootLabel = "A" | "B";

/** One menu entry as upstream builds it for a slot. */
export interface GrubMenuEntry {
  name: string;
  linux: string;
  cmdline: string;
  initrd: string;
}

/** The disk/install GRUB menu. */
export interface GrubConfig {
  default: BootLabel;
  fallback?: BootLabel;
  entries: Partial<Record<BootLabel, GrubMenuEntry>>;
  /** The "Reset Talos installation" entry (Talos ≥ 1.4, `Quirks.supportsResetGrubOption`). */
  addResetOption: boolean;
}

/** Upstream `buildMenuEntry`: `<label> - <product> <version>`, kernel and initramfs under `/<label>/`. */
export function grubMenuEntry(
  label: BootLabel,
  cmdline: string,
  version: string,
  product = "Talos",
): GrubMenuEntry {
  return {
    name: `${label} - ${product} ${version}`,
    linux: `/${label}/vmlinuz`,
    cmdline,
    initrd: `/${label}/initramfs.xz`,
  };
}

/** A config with one slot filled, as `NewConfig()` + `Put(label, cmdline, version)` gives. */
export function newGrubConfig(
  label: BootLabel,
  cmdline: string,
  version: string,
  options: { addResetOption: boolean; product?: string },
): GrubConfig {
  return {
    default: label,
    entries: { [label]: grubMenuEntry(label, cmdline, version, options.product) },
    addResetOption: options.addResetOption,
  };
}

const entryText = (name: string, linux: string, args: string, initrd: string): string =>
  `menuentry "${name}" {\n  set gfxmode=auto\n  set gfxpayload=text\n  linux ${linux} ${args}\n  initrd ${initrd}\n}\n`;

/** The disk/install `grub.cfg` text, byte for byte as upstream writes it. */
export function encodeGrubConfig(c: GrubConfig): string {
  const def = c.entries[c.default];
  if (def === undefined) throw invalidInput(`invalid default entry: ${c.default}`);
  if (c.fallback !== undefined && c.entries[c.fallback] === undefined) {
    throw invalidInput(`invalid fallback entry: ${c.fallback}`);
  }
  if (c.default === c.fallback) throw invalidInput("default and fallback entries must not be the same");

  let out = `set default="${def.name}"\n`;
  if (c.fallback !== undefined) out += `set fallback="${c.entries[c.fallback]!.name}"\n`;
  out += "\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n";
  // Upstream ranges over a Go map here (random order with two slots); A before B keeps it stable.
  for (const label of ["A", "B"] as const) {
    const e = c.entries[label];
    if (e) out += entryText(e.name, e.linux, grubQuote(e.cmdline), e.initrd);
  }
  if (c.addResetOption) {
    out += entryText(
      "Reset Talos installation and return to maintenance mode",
      def.linux,
      `${grubQuote(def.cmdline)} talos.experimental.wipe=system:EPHEMERAL,STATE`,
      def.initrd,
    );
  }
  return out;
}

/** The ISO's `boot/grub/grub.cfg` (entry bodies tab-indented; Reset entry on Talos ≥ 1.4). */
export function isoGrubConfig(cmdline: string, addResetOption: boolean): string {
  const q = grubQuote(cmdline);
  const entry = (name: string, args: string): string =>
    `menuentry "${name}" {\n\tset gfxmode=auto\n\tset gfxpayload=text\n\tlinux /boot/vmlinuz ${args}\n\tinitrd /boot/initramfs.xz\n}\n`;
  let out =
    "set default=0\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n";
  out += entry("Talos ISO", q);
  out += "\n";
  if (addResetOption) out += entry("Reset Talos installation", `${q} talos.experimental.wipe=system`);
  return out;
}

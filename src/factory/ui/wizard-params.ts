/**
 * The wizard's state as URL parameters (upstream names: `target`, `version`, `platform`, `board`,
 * `arch`, `secureboot`, `extensions`, `cmdline`, `bootloader`, `overlay-options`,
 * `schematic-id`). Every step is a GET URL built from the choices before it, so deep links,
 * reloads and the Back button all work from the URL alone.
 */

/** What the user chose so far; absent fields are steps not taken yet. */
export interface WizardParams {
  target?: string;
  /** Version without the `v` (`1.12.0`), as upstream puts it in URLs. */
  version?: string;
  platform?: string;
  board?: string;
  arch?: string;
  secureboot: boolean;
  /** Chosen extension names; `[]` means "none chosen" (the `-` sentinel), undefined "not asked yet". */
  extensions?: string[];
  cmdline: string;
  /** `auto` (no bootloader in the schematic), `sd-boot`, `grub` or `dual-boot`. */
  bootloader: string;
  overlayOptions: string;
  /** Never carried in URLs (it may hold secrets); only in form posts and the stored schematic. */
  embeddedConfig: string;
  /** Set on the final step. */
  schematicId?: string;
  /** A schematic whose customization pre-fills the customization step (Back from the result). */
  prefill?: string;
}

/** The wizard's steps in order. */
export const STEPS = ["target", "version", "platform", "arch", "extensions", "customization", "final"] as const;
/** One wizard step (`platform` is the cloud platform or the board, by target). */
export type Step = (typeof STEPS)[number];

/** The sentinel value meaning "no extensions" (so an empty choice still counts as made). */
export const NO_EXTENSIONS = "-";

function opt(q: URLSearchParams, key: string): string | undefined {
  const v = q.get(key);
  return v === null || v.trim() === "" ? undefined : v.trim();
}

/** Reads wizard parameters from a query string or a url-encoded form body. */
export function readParams(q: URLSearchParams): WizardParams {
  const ext = q.getAll("extensions");
  const version = opt(q, "version");
  const p: WizardParams = {
    secureboot: q.get("secureboot") === "true",
    cmdline: (q.get("cmdline") ?? "").trim(),
    bootloader: opt(q, "bootloader") ?? "auto",
    overlayOptions: q.get("overlay-options") ?? "",
    embeddedConfig: q.get("embedded-config") ?? "",
  };
  const set = <K extends keyof WizardParams>(k: K, v: WizardParams[K] | undefined) => {
    if (v !== undefined) p[k] = v;
  };
  set("target", opt(q, "target"));
  set("version", version?.replace(/^v/, ""));
  set("platform", opt(q, "platform"));
  set("board", opt(q, "board"));
  set("arch", opt(q, "arch"));
  if (ext.length > 0) p.extensions = [...new Set(ext.filter((e) => e !== NO_EXTENSIONS && e.trim() !== ""))];
  set("schematicId", opt(q, "schematic-id"));
  set("prefill", opt(q, "prefill"));
  return p;
}

/** Which parameters each step adds (the URL of a step carries those of every earlier step). */
const STEP_KEYS: Record<Step, readonly string[]> = {
  target: ["target"],
  version: ["version"],
  platform: ["platform", "board"],
  arch: ["arch", "secureboot"],
  extensions: ["extensions"],
  customization: ["cmdline", "bootloader", "overlay-options"],
  final: ["schematic-id"],
};

/** All URL values of the params, in wizard order (embedded config never included). */
function allValues(p: WizardParams): [string, string][] {
  const out: [string, string][] = [];
  const add = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== "") out.push([k, v]);
  };
  add("target", p.target);
  add("version", p.version);
  add("platform", p.platform);
  add("board", p.board);
  add("arch", p.arch);
  if (p.secureboot) add("secureboot", "true");
  if (p.extensions !== undefined) {
    if (p.extensions.length === 0) add("extensions", NO_EXTENSIONS);
    for (const e of p.extensions) add("extensions", e);
  }
  add("cmdline", p.cmdline);
  if (p.bootloader !== "auto") add("bootloader", p.bootloader);
  add("overlay-options", p.overlayOptions);
  add("schematic-id", p.schematicId);
  add("prefill", p.prefill);
  return out;
}

/** The parameters of every step before `step` (what a link to `step` carries). */
export function valuesBefore(p: WizardParams, step: Step): [string, string][] {
  const allowed = new Set(STEPS.slice(0, STEPS.indexOf(step)).flatMap((s) => STEP_KEYS[s]));
  return allValues(p).filter(([k]) => allowed.has(k));
}

/** The URL (path + query) showing `step` with the choices made before it. */
export function stepUrl(p: WizardParams, step: Step, extra: [string, string][] = []): string {
  const q = new URLSearchParams([...valuesBefore(p, step), ...extra]);
  const s = q.toString();
  return s === "" ? "/" : `/?${s}`;
}

/** The URL of the result page: where the user is, plus the schematic ID (as upstream). */
export function finalUrl(p: WizardParams, schematicId: string): string {
  return stepUrl({ ...p, extensions: undefined, cmdline: "", bootloader: "auto", overlayOptions: "" }, "extensions", [
    ["schematic-id", schematicId],
  ]);
}

/**
 * Platforms (`linux/amd64`, `linux/arm64/v8`) and picking the right manifest out of an index,
 * with the ecosystem's variant normalisation (arm64 means v8, arm means v7 unless stated).
 */
import { BootforgeError } from "../errors/index.js";
import type { Descriptor, ImageIndex, Platform } from "./media-types.js";

/** Parses `os/arch[/variant]`; a bare `arch` means `linux/arch`. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().split("/");
  if (parts.length === 1 && parts[0]) return normalizePlatform({ os: "linux", architecture: parts[0] });
  const [os, architecture, variant, extra] = parts;
  if (!os || !architecture || extra !== undefined || variant === "") {
    throw new BootforgeError(
      "invalid-input",
      `invalid platform ${JSON.stringify(s)}: expected os/arch[/variant]`,
    );
  }
  return normalizePlatform(variant ? { os, architecture, variant } : { os, architecture });
}

/** `os/arch[/variant]`. */
export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ""}`;
}

/** Applies Go's arch aliases and default variants so equal platforms compare equal. */
export function normalizePlatform(p: Platform): Platform {
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  if (architecture === "x86_64" || architecture === "x86-64") architecture = "amd64";
  if (architecture === "aarch64") architecture = "arm64";
  if (architecture === "arm64" && (variant === undefined || variant === "8")) variant = "v8";
  if (architecture === "arm" && variant === undefined) variant = "v7";
  if (architecture === "arm" && variant && /^\d$/.test(variant)) variant = `v${variant}`;
  const out: Platform = { os: p.os.toLowerCase(), architecture };
  if (variant) out.variant = variant;
  return out;
}

/** True when `candidate` satisfies `wanted` (os, arch and, after normalisation, variant). */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (!candidate) return false;
  const w = normalizePlatform(wanted);
  const c = normalizePlatform(candidate);
  return w.os === c.os && w.architecture === c.architecture && (w.variant ?? "") === (c.variant ?? "");
}

/** The descriptor in `index` for `wanted`, or a not-found error listing what the index offers. */
export function selectPlatform(index: ImageIndex, wanted: Platform, what = "image"): Descriptor {
  const hit = index.manifests.find((d) => platformMatches(wanted, d.platform));
  if (hit) return hit;
  const offered = index.manifests
    .map((d) => (d.platform ? formatPlatform(d.platform) : "(no platform)"))
    .join(", ");
  throw new BootforgeError(
    "not-found",
    `${what} has no manifest for platform ${formatPlatform(wanted)} (available: ${offered || "none"})`,
  );
}

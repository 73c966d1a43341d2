/**
 * Output file names (upstream `Profile.OutputPath`) and the name after post-processing.
 */
import { internalError } from "./internal-error.js";
import type { Profile } from "./model.js";

/** The file name the imager writes for this profile, before compression (e.g. `metal-amd64.raw`). */
export function outputPath(p: Profile): string {
  const arch = p.arch ?? "";
  const sb = p.secureboot === true ? "-secureboot" : "";
  const base = `${p.platform ?? ""}-${arch}${sb}`;
  switch (p.output?.kind ?? "unknown") {
    case "iso":
      return `${base}.iso`;
    case "image":
      return `${base}.${p.output?.imageOptions?.diskFormat ?? "unknown"}`;
    case "installer":
      return `installer-${arch}${sb}.tar`;
    case "kernel":
      return `kernel-${arch}`;
    case "initramfs":
      return `initramfs-${base}.xz`;
    case "uki":
      return `${base}-uki.efi`;
    case "cmdline":
      return `cmdline-${base}`;
    case "unknown":
      // Upstream panics here; validation rejects the kind first, so reaching it is a bug.
      throw internalError("output path of a profile with an unknown output kind");
  }
}

/** The final file name once `outFormat` has been applied (`.xz`/`.gz`/`.zst`/`.tar.gz` appended). */
export function finalOutputPath(p: Profile): string {
  const name = outputPath(p);
  const fmt = p.output?.outFormat ?? "raw";
  return fmt === "raw" || fmt === "unknown" ? name : `${name}${fmt}`;
}

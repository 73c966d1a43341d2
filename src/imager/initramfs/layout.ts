/** Where a Talos version keeps firmware and kernel modules inside a rootfs (≥ 1.10: under /usr). */
import type { Quirks } from "../../profile/quirks.js";

/** `usr/lib/firmware` on ≥ 1.10, `lib/firmware` before (relative, no leading slash). */
export function firmwarePath(quirks: Quirks): string {
  return quirks.useUsrLibPaths ? "usr/lib/firmware" : "lib/firmware";
}

/** `usr/lib/modules` on ≥ 1.10, `lib/modules` before (relative, no leading slash). */
export function kernelModulesPath(quirks: Quirks): string {
  return quirks.useUsrLibPaths ? "usr/lib/modules" : "lib/modules";
}

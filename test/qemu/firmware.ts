/**
 * Firmware images for QEMU boots, from Debian's `ovmf` and `qemu-efi-aarch64` packages.
 * Secure Boot uses `OVMF_CODE_4M.secboot.fd` (SMM-protected varstore) with either the
 * snakeoil-enrolled vars (PK/KEK/db hold Debian's test key), Microsoft-enrolled vars, or empty
 * vars (setup mode: nothing is enforced until keys are enrolled).
 */
import { existsSync } from "node:fs";
import { BootforgeError } from "../../src/errors/index.js";

/** How the guest firmware starts ("bios": SeaBIOS on amd64, no firmware at all on arm64). */
export type FirmwareMode = "bios" | "uefi" | "secureboot-snakeoil" | "secureboot-ms" | "secureboot-setup";

/** Guest architecture, Debian/Talos spelling. */
export type GuestArch = "amd64" | "arm64";

/** Code and variable-store templates for one firmware mode (undefined code: SeaBIOS). */
export interface FirmwareFiles {
  code?: string;
  vars?: string;
  /** Needs q35 with SMM and a secure pflash. */
  smm: boolean;
}

const OVMF = "/usr/share/OVMF";
const AAVMF = "/usr/share/AAVMF";

/** Where the snakeoil PK/KEK/db certificate and key live (to sign UKIs that snakeoil vars accept). */
export const SNAKEOIL = {
  cert: "/usr/share/ovmf/PkKek-1-snakeoil.pem",
  key: "/usr/share/ovmf/PkKek-1-snakeoil.key",
};

/** Resolves firmware files for an architecture and mode; throws if the package is missing. */
export function firmwareFiles(arch: GuestArch, mode: FirmwareMode): FirmwareFiles {
  let f: FirmwareFiles;
  // "bios" means no UEFI: SeaBIOS on amd64, QEMU's own kernel loader on arm64.
  if (mode === "bios") return { smm: false };
  if (arch === "amd64") {
    const vars = {
      uefi: "OVMF_VARS_4M.fd",
      "secureboot-snakeoil": "OVMF_VARS_4M.snakeoil.fd",
      "secureboot-ms": "OVMF_VARS_4M.ms.fd",
      "secureboot-setup": "OVMF_VARS_4M.fd",
    }[mode];
    const secure = mode !== "uefi";
    f = {
      code: `${OVMF}/${secure ? "OVMF_CODE_4M.secboot.fd" : "OVMF_CODE_4M.fd"}`,
      vars: `${OVMF}/${vars}`,
      smm: secure,
    };
  } else {
    // AAVMF has no SMM split: Secure Boot is the same code with enrolled vars.
    const vars = {
      uefi: "AAVMF_VARS.fd",
      "secureboot-snakeoil": "AAVMF_VARS.snakeoil.fd",
      "secureboot-ms": "AAVMF_VARS.ms.fd",
      "secureboot-setup": "AAVMF_VARS.fd",
    }[mode];
    f = { code: `${AAVMF}/AAVMF_CODE.fd`, vars: `${AAVMF}/${vars}`, smm: false };
  }
  for (const p of [f.code, f.vars]) {
    if (p !== undefined && !existsSync(p)) {
      const pkg = arch === "amd64" ? "ovmf" : "qemu-efi-aarch64";
      throw new BootforgeError("dependency", `${p} not found: install the Debian package ${pkg}`);
    }
  }
  return f;
}

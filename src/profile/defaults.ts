/**
 * Per-version defaults (upstream `Input.FillDefaults` and `Output.FillDefaults`): asset paths,
 * the base installer image, default SecureBoot signers, bootloader choice and disk growth.
 */
import { Quirks } from "./quirks.js";
import type { BootloaderKind, Input, Output } from "./model.js";

const SECUREBOOT_PREFIX = "/secureboot";

/** Tells whether a file exists; upstream stats `/secureboot/{PK,KEK,db}.auth` at this point. */
export type FileExists = (path: string) => boolean;

const noFiles: FileExists = () => false;

const isZeroObject = (o: object | undefined) =>
  o === undefined || Object.values(o).every((v) => v === undefined || v === "" || v === false);

/**
 * Returns `input` with upstream's defaults filled in for this arch, version and SecureBoot mode.
 * `fileExists` decides whether the optional auto-enrollment databases are added (default: never,
 * which keeps this function free of I/O and matches the goldens).
 */
export function fillInputDefaults(
  input: Input | undefined,
  arch: string,
  version: string,
  secureboot: boolean,
  fileExists: FileExists = noFiles,
): Input {
  const i: Input = structuredClone(input ?? {});
  if (isZeroObject(i.kernel)) i.kernel = { path: `/usr/install/${arch}/vmlinuz` };
  if (isZeroObject(i.initramfs)) i.initramfs = { path: `/usr/install/${arch}/initramfs.xz` };
  if (isZeroObject(i.baseInstaller)) {
    // Before 1.10 the base was the full installer image; 1.10 unified it into installer-base.
    const repo = new Quirks(version).supportsUnifiedInstaller
      ? "ghcr.io/siderolabs/installer-base"
      : "ghcr.io/siderolabs/installer";
    i.baseInstaller = { imageRef: `${repo}:${version}` };
  }
  if (isZeroObject(i.sdStub)) i.sdStub = { path: `/usr/install/${arch}/systemd-stub.efi` };
  if (isZeroObject(i.sdBoot)) i.sdBoot = { path: `/usr/install/${arch}/systemd-boot.efi` };

  if (secureboot) {
    const sb = (i.secureboot ??= {});
    if (isZeroObject(sb.secureBootSigner)) {
      sb.secureBootSigner = {
        keyPath: `${SECUREBOOT_PREFIX}/uki-signing-key.pem`,
        certPath: `${SECUREBOOT_PREFIX}/uki-signing-cert.pem`,
      };
    }
    if (isZeroObject(sb.pcrSigner)) sb.pcrSigner = { keyPath: `${SECUREBOOT_PREFIX}/pcr-signing-key.pem` };
    const enroll = [
      ["platformKeyPath", "PK.auth"],
      ["keyExchangeKeyPath", "KEK.auth"],
      ["signatureKeyPath", "db.auth"],
    ] as const;
    for (const [field, file] of enroll) {
      const path = `${SECUREBOOT_PREFIX}/${file}`;
      if (!sb[field] && fileExists(path)) sb[field] = path;
    }
  }
  return i;
}

/**
 * Chooses the bootloader as upstream's `selectBootloader`: an explicit choice is kept unless
 * SecureBoot forces sd-boot; otherwise sd-boot on arm64 from 1.10, GRUB before 1.10 (and for an
 * unparseable version), dual-boot on amd64 from 1.10.
 */
export function selectBootloader(
  current: BootloaderKind | undefined,
  arch: string,
  version: string,
  secureboot: boolean,
): BootloaderKind {
  if (current !== undefined && current !== "none" && !secureboot) return current;
  const useSDBoot = new Quirks(version).useSDBootForUEFI;
  if (secureboot) return "sd-boot";
  if (arch === "arm64" && useSDBoot) return "sd-boot";
  if (!useSDBoot) return "grub";
  return "dual-boot";
}

/**
 * Returns `output` with upstream's defaults filled in: for disk images the bootloader and the
 * disk growth for the BOOT partition (not idempotent, exactly like upstream); for ISOs on ≥ 1.12
 * the `isoOptions` bootloader.
 */
export function fillOutputDefaults(
  output: Output | undefined,
  arch: string,
  version: string,
  secureboot: boolean,
): Output {
  const o: Output = structuredClone(output ?? {});
  const q = new Quirks(version);
  if (o.kind === "image") {
    const io = (o.imageOptions ??= {});
    io.bootloader = selectBootloader(io.bootloader, arch, version, secureboot);
    const ps = q.partitionSizes;
    // Disk sizes in built-in profiles were sized for a 1000 MiB BOOT partition.
    let size = (io.diskSize ?? 0) + ps.grubBootSize - 1000 * 1024 * 1024;
    if (io.bootloader === "dual-boot") size += ps.grubBIOSSize + ps.grubBootSize;
    io.diskSize = size;
  } else if (o.kind === "iso" && q.supportsISOBootloaderChoice) {
    const iso = (o.isoOptions ??= {});
    iso.bootloader = selectBootloader(iso.bootloader, arch, version, secureboot);
  }
  return o;
}

/**
 * Per-version behaviour switches of the imager (upstream `pkg/machinery/imager/quirks`).
 * An unparseable version means "latest" for most quirks, except the few upstream
 * explicitly answers `false` for (sd-boot, metal ttyS0, IMA, lockdown).
 */
import { atLeast, parseTalosVersion, type TalosVersion } from "./version.js";

const MIB = 1024 * 1024;

/** Partition sizes in bytes (upstream `quirks.PartitionSizes`). */
export interface PartitionSizes {
  readonly grubEFISize: number;
  readonly grubBIOSSize: number;
  readonly grubBootSize: number;
  /** EFI partition with UKIs: the old EFI + BIOS + BOOT sizes. */
  readonly ukiEFISize: number;
  readonly metaSize: number;
  readonly stateSize: number;
  readonly ephemeralMinSize: number;
}

/** Version-dependent behaviour of the imager for one Talos version. */
export class Quirks {
  /** The parsed version, or undefined when the text was not a version (treated as latest). */
  readonly version: TalosVersion | undefined;

  constructor(version: string) {
    this.version = parseTalosVersion(version);
  }

  private since(major: number, minor: number, patch = 0): boolean {
    return this.version === undefined || atLeast(this.version, major, minor, patch);
  }

  private sinceOrFalse(major: number, minor: number, patch = 0): boolean {
    return this.version !== undefined && atLeast(this.version, major, minor, patch);
  }

  /** GRUB "Reset" menu entry (≥ 1.4). */
  get supportsResetGrubOption(): boolean {
    return this.since(1, 4);
  }
  /** UKI, SecureBoot and multi-document machine config (≥ 1.5). */
  get supportsUKI(): boolean {
    return this.since(1, 5);
  }
  /** META values on the kernel command line may be gzip-compressed (≥ 1.6.3). */
  get supportsCompressedEncodedMETA(): boolean {
    return this.since(1, 6, 3);
  }
  /** SBC overlays (≥ 1.7). */
  get supportsOverlay(): boolean {
    return this.since(1, 7);
  }
  /** zstd-compressed extension squashfs and initramfs appends (≥ 1.8; xz before). */
  get useZSTDCompression(): boolean {
    return this.since(1, 8);
  }
  /** ISO volume label carries the version (≥ 1.8). */
  get supportsISOLabel(): boolean {
    return this.since(1, 8);
  }
  /** ISO kernel args get `talos.halt_if_installed=1` (≥ 1.8). */
  get supportsHaltIfInstalled(): boolean {
    return this.since(1, 8);
  }
  /** Disk images carry STATE and EPHEMERAL partitions (< 1.8). */
  get partitionSTATEAndEPHEMERAL(): boolean {
    return !this.since(1, 8);
  }
  /** metal amd64 keeps `console=ttyS0` (< 1.8; false for unparseable versions). */
  get supportsMetalPlatformConsoleTTYS0(): boolean {
    return this.version !== undefined && !atLeast(this.version, 1, 8);
  }
  /** `selinux=1` in the default args (≥ 1.10). */
  get supportsSELinux(): boolean {
    return this.since(1, 10);
  }
  /** systemd-boot for UEFI (≥ 1.10; false for unparseable versions). */
  get useSDBootForUEFI(): boolean {
    return this.sinceOrFalse(1, 10);
  }
  /** `/usr/lib/modules` and `/usr/lib/firmware` (≥ 1.10; `/lib/...` before). */
  get useUsrLibPaths(): boolean {
    return this.since(1, 10);
  }
  /** UKI profiles (≥ 1.10). */
  get supportsUKIProfiles(): boolean {
    return this.since(1, 10);
  }
  /** Unified `installer-base` image instead of `installer` (≥ 1.10). */
  get supportsUnifiedInstaller(): boolean {
    return this.since(1, 10);
  }
  /** IMA args in the default command line (≤ 1.10.x; false for unparseable versions). */
  get supportsIMA(): boolean {
    return this.version !== undefined && !atLeast(this.version, 1, 11);
  }
  /** BOOT partition of 2000 MiB instead of 1000 MiB (≥ 1.11). */
  get useLargeBootPartition(): boolean {
    return this.since(1, 11);
  }
  /** `module.sig_enforce=1` (≥ 1.12). */
  get supportsModuleSigEnforce(): boolean {
    return this.since(1, 12);
  }
  /** ISO bootloader choice through `isoOptions` (≥ 1.12). */
  get supportsISOBootloaderChoice(): boolean {
    return this.since(1, 12);
  }
  /** Machine configuration embedded into the image (≥ 1.12). */
  get supportsEmbeddedConfig(): boolean {
    return this.since(1, 12);
  }
  /** `proc_mem.force_override=never` (≥ 1.13). */
  get supportsProcMemForceOverride(): boolean {
    return this.since(1, 13);
  }
  /** `init_on_alloc=1` and global `nvme_core.io_timeout` in the defaults (< 1.14). */
  get defaultArgsIncludeInitOnAlloc(): boolean {
    return this.version !== undefined && !atLeast(this.version, 1, 14);
  }
  /** SecureBoot adds `lockdown=confidentiality` (< 1.14; false for unparseable versions). */
  get forcesLockdownConfidentiality(): boolean {
    return this.version !== undefined && !atLeast(this.version, 1, 14);
  }
  /** AWS gets `nvme_core.io_timeout` as a platform arg (≥ 1.14). */
  get awsNvmeTimeoutAsPlatformArg(): boolean {
    return this.since(1, 14);
  }
  /** Partition sizes of disk images (the BOOT partition grows from 1000 to 2000 MiB on 1.11). */
  get partitionSizes(): PartitionSizes {
    const grubBootSize = (this.version !== undefined && !atLeast(this.version, 1, 11) ? 1000 : 2000) * MIB;
    return {
      grubEFISize: 100 * MIB,
      grubBIOSSize: MIB,
      grubBootSize,
      ukiEFISize: 100 * MIB + MIB + grubBootSize,
      metaSize: MIB,
      stateSize: 100 * MIB,
      ephemeralMinSize: 2048 * MIB,
    };
  }
  /** Minimum XFS allocation group size for the installer (64 GiB on ≥ 1.14, 0 = none before). */
  get xfsMinAllocationGroupSize(): number {
    return this.version !== undefined && !atLeast(this.version, 1, 14) ? 0 : 64 * 1024 * MIB;
  }
  /** The factory serves talosctl downloads (≥ 1.11.0-alpha.3; prereleases ignored as upstream does). */
  get supportsFactoryTalosctlDownload(): boolean {
    return this.since(1, 11);
  }
  /** mkfs.xfs configuration file under `/usr/share/xfsprogs/mkfs/`. */
  get xfsConfigFile(): string {
    const v = this.version;
    if (v === undefined || atLeast(v, 1, 13)) return "lts_6.18.conf";
    if (atLeast(v, 1, 10)) return "lts_6.12.conf";
    if (atLeast(v, 1, 8)) return "lts_6.6.conf";
    return "lts_6.1.conf";
  }
}

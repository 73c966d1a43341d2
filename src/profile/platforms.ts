/**
 * The platform catalogue (upstream `pkg/machinery/platforms`): what the factory UI offers per
 * platform and the asset names it links to, plus the platform names Talos itself knows.
 */
import type { Arch } from "./model.js";
import { compareVersions, parseTalosVersion, type TalosVersion } from "./version.js";

/** How a machine on the platform boots Talos. */
export type BootMethod = "disk-image" | "iso" | "pxe";

/** One platform as the factory UI shows it. */
export interface PlatformInfo {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  /** Oldest Talos version offering it (semver text), or undefined for all. */
  readonly minVersion?: string;
  readonly architectures: readonly Arch[];
  /** Documentation path below the Talos docs site. */
  readonly documentation?: string;
  /** Default disk image suffix (e.g. `raw.zst`), absent when there is no disk image. */
  readonly diskImageSuffix?: string;
  /** Boot methods in the order the UI lists them. */
  readonly bootMethods: readonly BootMethod[];
  readonly secureBootSupported: boolean;
}

const BOTH: readonly Arch[] = ["amd64", "arm64"];
const AMD64: readonly Arch[] = ["amd64"];
const CLOUD_DOCS = "/platform-specific-installations/cloud-platforms";

/** The metal platform (listed apart from clouds by upstream). */
export const METAL_PLATFORM: PlatformInfo = {
  name: "metal",
  label: "Bare Metal",
  description: "Runs on bare-metal servers",
  architectures: BOTH,
  documentation: "/platform-specific-installations/bare-metal-platforms/bootloader",
  diskImageSuffix: "raw.zst",
  bootMethods: ["iso", "disk-image", "pxe"],
  secureBootSupported: true,
};

/** Cloud platforms in upstream order (tier 1 to tier 4). */
export const CLOUD_PLATFORMS: readonly PlatformInfo[] = [
  {
    name: "aws",
    label: "Amazon Web Services (AWS)",
    description: "Runs on AWS VMs booted from an AMI",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/aws`,
    diskImageSuffix: "raw.xz",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "gcp",
    label: "Google Cloud (GCP)",
    description: "Runs on Google Cloud VMs booted from a disk image",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/gcp`,
    diskImageSuffix: "raw.tar.gz",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "equinixMetal",
    label: "Equinix Metal",
    description: "Runs on Equinix Metal bare-metal servers",
    architectures: BOTH,
    documentation: "/platform-specific-installations/bare-metal-platforms/equinix-metal",
    bootMethods: ["pxe"],
    secureBootSupported: false,
  },
  {
    name: "azure",
    label: "Microsoft Azure",
    description: "Runs on Microsoft Azure Linux Virtual Machines",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/azure`,
    diskImageSuffix: "vhd.xz",
    bootMethods: ["disk-image"],
    secureBootSupported: true,
  },
  {
    name: "digital-ocean",
    label: "Digital Ocean",
    description: "Runs on Digital Ocean droplets",
    architectures: AMD64,
    documentation: `${CLOUD_DOCS}/digitalocean`,
    diskImageSuffix: "raw.gz",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "nocloud",
    label: "Nocloud",
    description: "Runs on various hypervisors supporting 'nocloud' metadata (Proxmox, Oxide Computer, etc.)",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/nocloud`,
    diskImageSuffix: "raw.xz",
    bootMethods: ["disk-image", "iso", "pxe"],
    secureBootSupported: true,
  },
  {
    name: "openstack",
    label: "OpenStack",
    description: "Runs on OpenStack virtual machines",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/openstack`,
    diskImageSuffix: "raw.xz",
    bootMethods: ["disk-image", "iso", "pxe"],
    secureBootSupported: false,
  },
  {
    name: "vmware",
    label: "VMWare",
    description: "Runs on VMWare ESXi virtual machines",
    architectures: BOTH,
    documentation: "/platform-specific-installations/virtualized-platforms/vmware",
    diskImageSuffix: "ova",
    bootMethods: ["disk-image", "iso"],
    secureBootSupported: false,
  },
  {
    name: "akamai",
    label: "Akamai",
    description: "Runs on Akamai Cloud (Linode) virtual machines",
    minVersion: "1.7.0",
    architectures: AMD64,
    documentation: `${CLOUD_DOCS}/akamai`,
    diskImageSuffix: "raw.gz",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "cloudstack",
    label: "Apache CloudStack",
    description: "Runs on Apache CloudStack virtual machines",
    minVersion: "1.8.0-alpha.2",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/cloudstack`,
    diskImageSuffix: "raw.gz",
    bootMethods: ["disk-image"],
    secureBootSupported: true,
  },
  {
    name: "hcloud",
    label: "Hetzner",
    description: "Runs on Hetzner virtual machines",
    architectures: AMD64,
    documentation: `${CLOUD_DOCS}/hetzner`,
    diskImageSuffix: "raw.xz",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "oracle",
    label: "Oracle Cloud",
    description: "Runs on Oracle Cloud virtual machines",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/oracle`,
    diskImageSuffix: "qcow2",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "upcloud",
    label: "UpCloud",
    description: "Runs on UpCloud virtual machines",
    architectures: AMD64,
    documentation: `${CLOUD_DOCS}/upcloud`,
    diskImageSuffix: "raw.xz",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "vultr",
    label: "Vultr",
    description: "Runs on Vultr Cloud Compute virtual machines",
    architectures: AMD64,
    documentation: `${CLOUD_DOCS}/vultr`,
    bootMethods: ["iso", "pxe"],
    secureBootSupported: false,
  },
  {
    name: "exoscale",
    label: "Exoscale",
    description: "Runs on Exoscale virtual machines",
    minVersion: "1.3.0",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/exoscale`,
    diskImageSuffix: "qcow2",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
  {
    name: "opennebula",
    label: "OpenNebula",
    description: "Runs on OpenNebula virtual machines",
    minVersion: "1.7.0",
    architectures: BOTH,
    documentation: "/platform-specific-installations/virtualized-platforms/opennebula",
    diskImageSuffix: "raw.zst",
    bootMethods: ["disk-image", "iso"],
    secureBootSupported: false,
  },
  {
    name: "scaleway",
    label: "Scaleway",
    description: "Runs on Scaleway virtual machines",
    architectures: BOTH,
    documentation: `${CLOUD_DOCS}/scaleway`,
    diskImageSuffix: "raw.zst",
    bootMethods: ["disk-image", "iso"],
    secureBootSupported: false,
  },
  {
    name: "alibabacloud",
    label: "AlibabaCloud",
    description: "Runs on Alibaba Cloud virtual machines",
    minVersion: "1.14.0-beta.2",
    architectures: BOTH,
    diskImageSuffix: "qcow2",
    bootMethods: ["disk-image"],
    secureBootSupported: false,
  },
];

/**
 * Platform names the Talos imager accepts for `talos.platform` (upstream `platform.NewPlatform`;
 * `packet` is the old name of equinixMetal, `container` is for docker-based clusters).
 */
export const KNOWN_PLATFORMS = [
  "akamai",
  "alibabacloud",
  "aws",
  "azure",
  "cloudstack",
  "container",
  "digital-ocean",
  "equinixMetal",
  "exoscale",
  "gcp",
  "hcloud",
  "metal",
  "nocloud",
  "opennebula",
  "openstack",
  "oracle",
  "packet",
  "scaleway",
  "upcloud",
  "vmware",
  "vultr",
] as const;

/** True when Talos knows the platform name. */
export function isKnownPlatform(name: string): boolean {
  return (KNOWN_PLATFORMS as readonly string[]).includes(name);
}

/** The catalogue entry for a platform name (metal or a cloud), or undefined. */
export function platformInfo(name: string): PlatformInfo | undefined {
  return name === METAL_PLATFORM.name ? METAL_PLATFORM : CLOUD_PLATFORMS.find((p) => p.name === name);
}

/** True when the platform is offered for `version` (full semver order, so 1.8.0-alpha.2 counts). */
export function platformAvailable(p: PlatformInfo, version: string | TalosVersion): boolean {
  if (p.minVersion === undefined) return true;
  const v = typeof version === "string" ? parseTalosVersion(version) : version;
  const min = parseTalosVersion(p.minVersion);
  return v !== undefined && min !== undefined && compareVersions(v, min) >= 0;
}

/** Cloud platforms offered for a Talos version, in catalogue order (the UI's cloud step). */
export function cloudPlatformsFor(version: string): PlatformInfo[] {
  return CLOUD_PLATFORMS.filter((p) => platformAvailable(p, version));
}

/** True when the platform has any boot method besides a disk image (the UI then shows install steps). */
export function notOnlyDiskImage(p: PlatformInfo): boolean {
  return !(p.bootMethods.length === 1 && p.bootMethods[0] === "disk-image");
}

const sb = (secureboot: boolean) => (secureboot ? "-secureboot" : "");

/** Asset file names the factory serves for one platform, arch and SecureBoot choice. */
export const platformAssets = {
  /** `<platform>-<arch>[-secureboot].<suffix>`; the default suffix when none is given. */
  diskImage: (p: PlatformInfo, arch: string, secureboot = false, suffix = p.diskImageSuffix ?? "raw.zst") =>
    `${p.name}-${arch}${sb(secureboot)}.${suffix}`,
  /** `<platform>-<arch>[-secureboot].iso`. */
  iso: (p: PlatformInfo, arch: string, secureboot = false) => `${p.name}-${arch}${sb(secureboot)}.iso`,
  /** PXE script path `<platform>-<arch>[-secureboot]`. */
  pxeScript: (p: PlatformInfo, arch: string, secureboot = false) => `${p.name}-${arch}${sb(secureboot)}`,
  /** `<platform>-<arch>[-secureboot]-uki.efi`. */
  uki: (p: PlatformInfo, arch: string, secureboot = false) => `${p.name}-${arch}${sb(secureboot)}-uki.efi`,
  /** `kernel-<arch>` (platform independent). */
  kernel: (_p: PlatformInfo, arch: string) => `kernel-${arch}`,
  /** `initramfs-<arch>.xz` (platform independent). */
  initramfs: (_p: PlatformInfo, arch: string) => `initramfs-${arch}.xz`,
  /** `cmdline-<platform>-<arch>`. */
  cmdline: (p: PlatformInfo, arch: string) => `cmdline-${p.name}-${arch}`,
};

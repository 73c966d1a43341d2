/**
 * The 32 built-in profiles (upstream `profile.Default`). Every one sets `secureboot` explicitly so
 * a CLI merge on top never leaves it nil.
 */
import {
  cloneProfile,
  DEFAULT_RAW_DISK_SIZE,
  MiB,
  MIN_RAW_DISK_SIZE,
  type DiskFormat,
  type OutFormat,
  type Profile,
} from "./model.js";

function image(
  platform: string,
  secureboot: boolean,
  outFormat: OutFormat,
  diskSize: number,
  diskFormat: DiskFormat,
  extra: { diskFormatOptions?: string; diskSectorSize?: number } = {},
): Profile {
  return {
    platform,
    secureboot,
    output: {
      kind: "image",
      outFormat,
      imageOptions: { diskSize, diskFormat, ...extra },
    },
  };
}

const QCOW2 = { diskFormatOptions: "cluster_size=8k" };
const VHD = { diskFormatOptions: "subformat=fixed,force_size" };

const DEFAULTS: Readonly<Record<string, Profile>> = {
  iso: { platform: "metal", secureboot: false, output: { kind: "iso", outFormat: "raw" } },
  "secureboot-iso": {
    platform: "metal",
    secureboot: true,
    output: { kind: "iso", outFormat: "raw", isoOptions: { sdBootEnrollKeys: "if-safe" } },
  },
  metal: image("metal", false, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  "metal-4k": image("metal", false, ".zst", MIN_RAW_DISK_SIZE, "raw", { diskSectorSize: 4096 }),
  "metal-uki": { platform: "metal", secureboot: false, output: { kind: "uki", outFormat: "raw" } },
  "secureboot-metal-uki": { platform: "metal", secureboot: true, output: { kind: "uki", outFormat: "raw" } },
  "secureboot-metal": image("metal", true, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  installer: { platform: "metal", secureboot: false, output: { kind: "installer", outFormat: "raw" } },
  "secureboot-installer": {
    platform: "metal",
    secureboot: true,
    output: { kind: "installer", outFormat: "raw" },
  },
  akamai: image("akamai", false, ".gz", MIN_RAW_DISK_SIZE, "raw"),
  alibabacloud: image("alibabacloud", false, "raw", MIN_RAW_DISK_SIZE, "qcow2", QCOW2),
  aws: image("aws", false, ".zst", DEFAULT_RAW_DISK_SIZE, "raw"),
  azure: image("azure", false, ".zst", DEFAULT_RAW_DISK_SIZE, "vhd", VHD),
  "secureboot-azure": image("azure", true, ".zst", DEFAULT_RAW_DISK_SIZE, "vhd", VHD),
  cloudstack: image("cloudstack", false, ".zst", DEFAULT_RAW_DISK_SIZE, "raw"),
  "secureboot-cloudstack": image("cloudstack", true, ".zst", DEFAULT_RAW_DISK_SIZE, "raw"),
  "digital-ocean": image("digital-ocean", false, ".gz", DEFAULT_RAW_DISK_SIZE, "raw"),
  exoscale: image("exoscale", false, ".zst", 10 * 1024 * MiB, "qcow2", QCOW2),
  gcp: image("gcp", false, ".tar.gz", DEFAULT_RAW_DISK_SIZE, "raw"),
  hcloud: image("hcloud", false, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  nocloud: image("nocloud", false, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  "secureboot-nocloud": image("nocloud", true, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  opennebula: image("opennebula", false, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  "secureboot-opennebula": image("opennebula", true, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  openstack: image("openstack", false, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  "secureboot-openstack": image("openstack", true, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  oracle: image("oracle", false, ".zst", DEFAULT_RAW_DISK_SIZE, "qcow2", QCOW2),
  scaleway: image("scaleway", false, ".zst", MIN_RAW_DISK_SIZE, "raw"),
  upcloud: image("upcloud", false, ".zst", DEFAULT_RAW_DISK_SIZE, "raw"),
  vmware: image("vmware", false, "raw", DEFAULT_RAW_DISK_SIZE, "ova"),
  "secureboot-vmware": image("vmware", true, "raw", DEFAULT_RAW_DISK_SIZE, "ova"),
  vultr: image("vultr", false, ".zst", DEFAULT_RAW_DISK_SIZE, "raw"),
};

/** Names of the built-in profiles, sorted (the order upstream's golden test walks them in). */
export const BUILTIN_PROFILE_NAMES: readonly string[] = Object.keys(DEFAULTS).sort();

/** A fresh copy of the built-in profile `name`, or undefined when there is none. */
export function builtinProfile(name: string): Profile | undefined {
  const p = Object.hasOwn(DEFAULTS, name) ? DEFAULTS[name] : undefined;
  return p === undefined ? undefined : cloneProfile(p);
}

/**
 * The imager profile model (upstream `pkg/imager/profile`): every field with its YAML name, in
 * upstream field order. An absent optional field is Go's zero value; a `?:` on a Go pointer field
 * (secureboot, imageOptions, isoOptions, input.secureboot, overlay) means nil, so `false` and
 * `undefined` differ exactly where upstream's `*bool` makes them differ.
 */
import { invalidInput } from "../errors/index.js";

/** Output kinds in upstream enum order (index = Go value); `unknown` is the zero value. */
export const OUTPUT_KINDS = [
  "unknown",
  "iso",
  "image",
  "installer",
  "kernel",
  "initramfs",
  "uki",
  "cmdline",
] as const;
/** What the imager produces. */
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** Output post-processing formats in upstream enum order; the leading dot is part of the name. */
export const OUT_FORMATS = ["unknown", "raw", ".tar.gz", ".xz", ".gz", ".zst"] as const;
/** How the output file is post-processed (compressed or archived). */
export type OutFormat = (typeof OUT_FORMATS)[number];

/** Disk image formats in upstream enum order (`vhd` is qemu-img's VPC). */
export const DISK_FORMATS = ["unknown", "raw", "qcow2", "vhd", "ova"] as const;
/** Disk image container format. */
export type DiskFormat = (typeof DISK_FORMATS)[number];

/** Bootloader kinds in upstream enum order; `none` is the zero value. */
export const BOOTLOADER_KINDS = ["none", "dual-boot", "sd-boot", "grub"] as const;
/** Bootloader written into a disk image or ISO. */
export type BootloaderKind = (typeof BOOTLOADER_KINDS)[number];

/** systemd-boot `secure-boot-enroll` values in upstream enum order; `if-safe` is the zero value. */
export const SDBOOT_ENROLL_KEYS = ["if-safe", "manual", "force", "off"] as const;
/** How systemd-boot enrolls SecureBoot keys on first boot. */
export type SDBootEnrollKeys = (typeof SDBOOT_ENROLL_KEYS)[number];

/** Supported target architectures. */
export const ARCHES = ["amd64", "arm64"] as const;
/** Target architecture. */
export type Arch = (typeof ARCHES)[number];

const MIB = 1024 * 1024;
/** One mebibyte in bytes. */
export const MiB = MIB;
/** The smallest disk image upstream creates (metal and friends): 1246 MiB. */
export const MIN_RAW_DISK_SIZE = 1246 * MIB;
/** The default disk image size for cloud platforms: 8192 MiB. */
export const DEFAULT_RAW_DISK_SIZE = 8192 * MIB;

/** A file input (kernel, initramfs, systemd-boot/stub). */
export interface FileAsset {
  path?: string;
}

/** A container image input: a registry reference, a docker-archive tarball or an OCI layout dir. */
export interface ContainerAsset {
  imageRef?: string;
  forceInsecure?: boolean;
  tarballPath?: string;
  ociPath?: string;
}

/** SecureBoot signing key and certificate sources (first configured one wins). */
export interface SigningKeyAndCertificate {
  keyPath?: string;
  certPath?: string;
  azureVaultURL?: string;
  azureCertificateID?: string;
  awsKMSKeyID?: string;
  awsRegion?: string;
  awsCertPath?: string;
  awsCertARN?: string;
  signerAddress?: string;
}

/** PCR signing key sources. */
export interface SigningKey {
  keyPath?: string;
  azureVaultURL?: string;
  azureKeyID?: string;
  azureKeyVersion?: string;
  awsKMSKeyID?: string;
  awsRegion?: string;
  signerAddress?: string;
}

/** SecureBoot inputs: signers and optional auto-enrollment databases. */
export interface SecureBootAssets {
  secureBootSigner?: SigningKeyAndCertificate;
  pcrSigner?: SigningKey;
  platformKeyPath?: string;
  keyExchangeKeyPath?: string;
  signatureKeyPath?: string;
  includeWellKnownCerts?: boolean;
}

/** Build inputs. */
export interface Input {
  kernel?: FileAsset;
  initramfs?: FileAsset;
  sdStub?: FileAsset;
  sdBoot?: FileAsset;
  baseInstaller?: ContainerAsset;
  imageCache?: ContainerAsset;
  overlayInstaller?: ContainerAsset;
  /** Go pointer: undefined is nil. */
  secureboot?: SecureBootAssets;
  systemExtensions?: ContainerAsset[];
}

/** One META partition value (key 0–255). */
export interface MetaValue {
  key: number;
  value: string;
}

/** User customisations applied on top of the base profile. */
export interface CustomizationProfile {
  extraKernelArgs?: string[];
  metaContents?: MetaValue[];
  embeddedMachineConfiguration?: string;
}

/** Overlay values: any YAML value, as decoded (maps are plain objects). */
export type OverlayOptionValue =
  string | number | bigint | boolean | null | OverlayOptionValue[] | { [key: string]: OverlayOptionValue };

/** Overlay (SBC) selection. */
export interface OverlayOptions {
  name?: string;
  image?: ContainerAsset;
  /** Go `map[string]any`, printed with sorted keys. */
  options?: { [key: string]: OverlayOptionValue };
}

/** Options of the `image` output. */
export interface ImageOptions {
  diskSize?: number;
  diskFormat?: DiskFormat;
  diskFormatOptions?: string;
  diskSectorSize?: number;
  bootloader?: BootloaderKind;
  sdBootEnrollKeys?: SDBootEnrollKeys;
}

/** Options of the `iso` output. */
export interface ISOOptions {
  sdBootEnrollKeys?: SDBootEnrollKeys;
  bootloader?: BootloaderKind;
}

/** What to produce. */
export interface Output {
  kind?: OutputKind;
  /** Go pointer: undefined is nil. */
  imageOptions?: ImageOptions;
  /** Go pointer: undefined is nil. */
  isoOptions?: ISOOptions;
  outFormat?: OutFormat;
}

/** An imager profile: what to build, from which inputs, for which machine. */
export interface Profile {
  baseProfileName?: string;
  arch?: string;
  platform?: string;
  /** Go `*bool`: undefined is nil (inherit), false is an explicit "off". */
  secureboot?: boolean;
  name?: string;
  version?: string;
  customization?: CustomizationProfile;
  input?: Input;
  /** Go pointer: undefined is nil. */
  overlay?: OverlayOptions;
  output?: Output;
}

/** Parses an enum name as upstream's enumer does: exact match, then the lower-cased text. */
function parseEnum<T extends string>(values: readonly T[], typeName: string, text: string): T {
  const exact = values.find((v) => v === text);
  if (exact !== undefined) return exact;
  const lower = text.toLowerCase();
  const found = values.find((v) => v === lower);
  if (found !== undefined) return found;
  throw invalidInput(`${text} does not belong to ${typeName} values`);
}

/** Parses an output kind name (`iso`, `IMAGE`, ...); unknown names are invalid input. */
export const parseOutputKind = (text: string): OutputKind => parseEnum(OUTPUT_KINDS, "OutputKind", text);
/** Parses an output format name (`raw`, `.zst`, ...). */
export const parseOutFormat = (text: string): OutFormat => parseEnum(OUT_FORMATS, "OutFormat", text);
/** Parses a disk format name (`raw`, `qcow2`, `vhd`, `ova`). */
export const parseDiskFormat = (text: string): DiskFormat => parseEnum(DISK_FORMATS, "DiskFormat", text);
/** Parses a bootloader name (`dual-boot`, `sd-boot`, `grub`, `none`). */
export const parseBootloaderKind = (text: string): BootloaderKind =>
  parseEnum(BOOTLOADER_KINDS, "BootloaderKind", text);
/** Parses a systemd-boot enroll-keys value (`if-safe`, `manual`, `force`, `off`). */
export const parseSDBootEnrollKeys = (text: string): SDBootEnrollKeys =>
  parseEnum(SDBOOT_ENROLL_KEYS, "SDBootEnrollKeys", text);

/** Parses `key=value` as upstream's `meta.Value.Parse` (key in Go base-0 syntax, 0–255). */
export function parseMetaValue(text: string): MetaValue {
  const eq = text.indexOf("=");
  if (eq < 0) throw invalidInput(`invalid value ${goQuote(text)}`);
  const k = text.slice(0, eq);
  const key = parseGoUint(k, 8);
  if (key === undefined) throw invalidInput(`invalid key ${goQuote(k)}`);
  return { key, value: text.slice(eq + 1) };
}

/** `strconv.ParseUint(s, 0, bits)`: decimal, 0x/0o/0b/leading-0 octal, underscores between digits. */
function parseGoUint(s: string, bits: number): number | undefined {
  let base = 10;
  let digits = s;
  const lower = s.toLowerCase();
  if (lower.startsWith("0x")) [base, digits] = [16, s.slice(2)];
  else if (lower.startsWith("0o")) [base, digits] = [8, s.slice(2)];
  else if (lower.startsWith("0b")) [base, digits] = [2, s.slice(2)];
  else if (s.length > 1 && s.startsWith("0")) [base, digits] = [8, s.slice(1)];
  if (base !== 10 && digits.includes("_")) {
    if (!/^_?[0-9a-z]+(_[0-9a-z]+)*$/i.test(digits)) return undefined;
    digits = digits.replaceAll("_", "");
  }
  const alphabet = "0123456789abcdef".slice(0, base);
  if (digits === "" || ![...digits.toLowerCase()].every((c) => alphabet.includes(c))) return undefined;
  const n = parseInt(digits, base);
  return n < 2 ** bits ? n : undefined;
}

/** Go's `%q` for the plain strings that appear in error messages. */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** True when `value` is a string naming a supported architecture. */
export function isArch(value: string | undefined): value is Arch {
  return value === "amd64" || value === "arm64";
}

/** A deep copy (upstream `DeepCopy`): no object of the result is shared with the source. */
export function cloneProfile(p: Profile): Profile {
  return structuredClone(p);
}

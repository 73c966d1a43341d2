/**
 * One description of the profile's Go struct layout (YAML names, field order, pointers,
 * omitempty), so merging, zero checks, YAML output and strict decoding all agree with upstream
 * without repeating the field list four times.
 */
import { BOOTLOADER_KINDS, DISK_FORMATS, OUT_FORMATS, OUTPUT_KINDS, SDBOOT_ENROLL_KEYS } from "./model.js";

/** The Go type of one field. */
export type FieldType =
  | { readonly t: "string" }
  | { readonly t: "int"; readonly min: number; readonly max: number }
  | { readonly t: "bool" }
  | { readonly t: "enum"; readonly name: string; readonly values: readonly string[] }
  | { readonly t: "struct"; readonly fields: readonly FieldDef[] }
  | { readonly t: "list"; readonly of: FieldType }
  | { readonly t: "map" };

/** One struct field: its YAML key, type, and Go pointer/omitempty flags. */
export interface FieldDef {
  readonly key: string;
  readonly type: FieldType;
  readonly pointer?: boolean;
  readonly omitempty?: boolean;
}

const str: FieldType = { t: "string" };
const bool: FieldType = { t: "bool" };
const enumOf = (name: string, values: readonly string[]): FieldType => ({ t: "enum", name, values });
const struct = (fields: FieldDef[]): FieldType => ({ t: "struct", fields });
const f = (
  key: string,
  type: FieldType,
  flags: { pointer?: boolean; omitempty?: boolean } = {},
): FieldDef => ({
  key,
  type,
  ...flags,
});
const o = (key: string, type: FieldType, pointer = false): FieldDef =>
  f(key, type, { omitempty: true, pointer });

const fileAsset = struct([f("path", str)]);
const containerAsset = struct([
  f("imageRef", str),
  o("forceInsecure", bool),
  o("tarballPath", str),
  o("ociPath", str),
]);

const secureBootAssets = struct([
  f(
    "secureBootSigner",
    struct(
      [
        "keyPath",
        "certPath",
        "azureVaultURL",
        "azureCertificateID",
        "awsKMSKeyID",
        "awsRegion",
        "awsCertPath",
        "awsCertARN",
        "signerAddress",
      ].map((k) => o(k, str)),
    ),
  ),
  f(
    "pcrSigner",
    struct(
      [
        "keyPath",
        "azureVaultURL",
        "azureKeyID",
        "azureKeyVersion",
        "awsKMSKeyID",
        "awsRegion",
        "signerAddress",
      ].map((k) => o(k, str)),
    ),
  ),
  o("platformKeyPath", str),
  o("keyExchangeKeyPath", str),
  o("signatureKeyPath", str),
  o("includeWellKnownCerts", bool),
]);

const input = struct([
  f("kernel", fileAsset),
  f("initramfs", fileAsset),
  o("sdStub", fileAsset),
  o("sdBoot", fileAsset),
  o("baseInstaller", containerAsset),
  o("imageCache", containerAsset),
  o("overlayInstaller", containerAsset),
  o("secureboot", secureBootAssets, true),
  o("systemExtensions", { t: "list", of: containerAsset }),
]);

const bootloader = enumOf("BootloaderKind", BOOTLOADER_KINDS);
const enrollKeys = enumOf("SDBootEnrollKeys", SDBOOT_ENROLL_KEYS);

const output = struct([
  f("kind", enumOf("OutputKind", OUTPUT_KINDS)),
  o(
    "imageOptions",
    struct([
      f("diskSize", { t: "int", min: -(2 ** 63), max: 2 ** 63 - 1 }),
      o("diskFormat", enumOf("DiskFormat", DISK_FORMATS)),
      o("diskFormatOptions", str),
      o("diskSectorSize", { t: "int", min: 0, max: 2 ** 64 - 1 }),
      o("bootloader", bootloader),
      o("sdBootEnrollKeys", enrollKeys),
    ]),
    true,
  ),
  o("isoOptions", struct([f("sdBootEnrollKeys", enrollKeys), o("bootloader", bootloader)]), true),
  f("outFormat", enumOf("OutFormat", OUT_FORMATS)),
]);

/** The `Profile` struct, fields in upstream order. */
export const PROFILE_SCHEMA: FieldType = struct([
  o("baseProfileName", str),
  f("arch", str),
  f("platform", str),
  f("secureboot", bool, { pointer: true }),
  o("name", str),
  f("version", str),
  o(
    "customization",
    struct([
      o("extraKernelArgs", { t: "list", of: str }),
      o("metaContents", {
        t: "list",
        of: struct([f("key", { t: "int", min: 0, max: 255 }), f("value", str)]),
      }),
      o("embeddedMachineConfiguration", str),
    ]),
  ),
  f("input", input),
  o("overlay", struct([f("name", str), f("image", containerAsset), o("options", { t: "map" })]), true),
  f("output", output),
]);

/** Go zero value check for a non-pointer value of `type` (undefined counts as zero). */
export function isZero(type: FieldType, value: unknown): boolean {
  if (value === undefined || value === null) return true;
  switch (type.t) {
    case "string":
      return value === "";
    case "int":
      return value === 0 || value === 0n;
    case "bool":
      return value === false;
    case "enum":
      return value === type.values[0];
    case "list":
      return (value as unknown[]).length === 0;
    case "map":
      return Object.keys(value).length === 0;
    case "struct": {
      const obj = value as Record<string, unknown>;
      return type.fields.every((fd) =>
        fd.pointer ? obj[fd.key] === undefined : isZero(fd.type, obj[fd.key]),
      );
    }
  }
}

/**
 * Decoding, canonical form and ID of schematics, compatible with the upstream Image Factory:
 * `parseSchematic` accepts what upstream's strict decoder accepts (YAML or JSON, first document),
 * `canonicalSchematic` is byte for byte upstream's `Marshal`, `schematicId` its `ID`.
 */

import { createHash } from "node:crypto";
import { BootforgeError } from "../errors/index.js";
import { decodeStrict, DEFAULT_LIMITS, type DecodeLimits } from "../yaml/decode.js";
import { marshal, type GoMap, type YamlValue } from "../yaml/emit.js";
import { SCHEMATIC_SPEC, type BootloaderKind, type Schematic } from "./model.js";

/** Largest schematic body accepted (upstream has no limit). */
export const MAX_SCHEMATIC_BYTES = 1 << 20;

const LIMITS: DecodeLimits = { ...DEFAULT_LIMITS, maxBytes: MAX_SCHEMATIC_BYTES };

interface Decoded {
  owner: string;
  overlay: { image: string; name: string; options: GoMap | null };
  customization: {
    embeddedMachineConfiguration: string;
    extraKernelArgs: string[];
    meta: Array<{ key: bigint; value: string }>;
    systemExtensions: { officialExtensions: string[] };
    bootloader: BootloaderKind;
    secureboot: { enrollKeys: string; includeWellKnownCertificates: boolean };
    diskImage: { sectorSize: bigint };
  };
}

/**
 * Decodes a schematic strictly (unknown or duplicate keys, wrong types, meta keys outside 0–255,
 * unknown bootloaders and a non-empty `owner` are errors). Throws BootforgeError of kind
 * "invalid-input" (naming line, column and field) or "too-large" (body over 1 MiB).
 */
export function parseSchematic(input: string | Uint8Array): Schematic {
  const size = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength;
  if (size > MAX_SCHEMATIC_BYTES) {
    throw new BootforgeError(
      "too-large",
      `schematic is ${size} bytes, larger than the limit of ${MAX_SCHEMATIC_BYTES} bytes (1 MiB)`,
    );
  }
  if (size === 0) throw new BootforgeError("invalid-input", "empty schematic (EOF)");
  const d = decodeStrict(input, SCHEMATIC_SPEC, LIMITS) as Decoded;
  const c = d.customization;
  const sectorSize = c.diskImage.sectorSize;
  if (sectorSize > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new BootforgeError(
      "invalid-input",
      `customization.diskImage.sectorSize: ${sectorSize} is too large`,
      {
        path: "customization.diskImage.sectorSize",
      },
    );
  }
  const s: Schematic = {
    owner: d.owner,
    overlay: d.overlay,
    customization: {
      embeddedMachineConfiguration: c.embeddedMachineConfiguration,
      extraKernelArgs: c.extraKernelArgs,
      meta: c.meta.map((m) => ({ key: Number(m.key), value: m.value })),
      systemExtensions: c.systemExtensions,
      bootloader: c.bootloader,
      secureboot: c.secureboot,
      diskImage: { sectorSize: Number(sectorSize) },
    },
  };
  validateSchematic(s);
  return s;
}

/** Upstream `Validate` for the open-source edition: the owner is set by the service only. */
export function validateSchematic(s: Schematic): void {
  if (s.owner !== "") {
    throw new BootforgeError("invalid-input", "owner: the owner field is not supported in this edition", {
      path: "owner",
    });
  }
  for (const [i, m] of s.customization.meta.entries()) {
    if (!Number.isInteger(m.key) || m.key < 0 || m.key > 255) {
      throw new BootforgeError("invalid-input", `customization.meta[${i}].key: ${m.key} is outside 0–255`, {
        path: `customization.meta[${i}].key`,
      });
    }
  }
  const size = s.customization.diskImage.sectorSize;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new BootforgeError(
      "invalid-input",
      `customization.diskImage.sectorSize: ${size} is not a valid size`,
      {
        path: "customization.diskImage.sectorSize",
      },
    );
  }
}

const orUndefined = <T>(v: T, zero: boolean): T | undefined => (zero ? undefined : v);

/** The schematic as go-yaml sees the upstream struct, with `omitempty` applied. */
export function schematicYamlValue(s: Schematic): YamlValue {
  const c = s.customization;
  const o = s.overlay;
  const options = o.options && o.options.size > 0 ? o.options : undefined;
  const overlayZero = o.image === "" && o.name === "" && options === undefined;
  const sb = c.secureboot;
  const sbZero = sb.enrollKeys === "" && !sb.includeWellKnownCertificates;
  const exts = c.systemExtensions.officialExtensions;
  return {
    owner: orUndefined(s.owner, s.owner === ""),
    overlay: overlayZero ? undefined : { image: o.image, name: o.name, options },
    customization: {
      embeddedMachineConfiguration: orUndefined(
        c.embeddedMachineConfiguration,
        c.embeddedMachineConfiguration === "",
      ),
      extraKernelArgs: orUndefined(c.extraKernelArgs, c.extraKernelArgs.length === 0),
      meta: orUndefined(
        c.meta.map((m) => ({ key: m.key, value: m.value })),
        c.meta.length === 0,
      ),
      systemExtensions: exts.length === 0 ? undefined : { officialExtensions: exts },
      bootloader: orUndefined(c.bootloader, c.bootloader === "none"),
      secureboot: sbZero
        ? undefined
        : {
            enrollKeys: orUndefined(sb.enrollKeys, sb.enrollKeys === ""),
            includeWellKnownCertificates: orUndefined(true, !sb.includeWellKnownCertificates),
          },
      diskImage: c.diskImage.sectorSize === 0 ? undefined : { sectorSize: c.diskImage.sectorSize },
    },
  };
}

/** The canonical YAML: byte for byte upstream's `Marshal` (go-yaml v4, indent 4). */
export function canonicalSchematic(s: Schematic): string {
  return marshal(schematicYamlValue(s));
}

/** The schematic ID: lowercase hex SHA-256 of the canonical YAML. */
export function schematicId(s: Schematic): string {
  return idOfCanonical(canonicalSchematic(s));
}

/** The ID of an already canonical schematic text. */
export function idOfCanonical(canonical: string): string {
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

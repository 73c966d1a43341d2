/**
 * The schematic: the request language of the Image Factory (upstream image-factory
 * `pkg/schematic/schematic.go`). Field order here is upstream's struct order, which is part of
 * the schematic ID.
 */

import type { GoMap } from "../yaml/emit.js";
import type { Spec } from "../yaml/decode.js";

/** Talos `imageropts.BootloaderKind`; `none` is the zero value (left out of the canonical form). */
export const BOOTLOADER_KINDS = ["none", "dual-boot", "sd-boot", "grub"] as const;
export type BootloaderKind = (typeof BOOTLOADER_KINDS)[number];

export interface Overlay {
  /** Overlay image reference (printed even when empty once the overlay is set). */
  image: string;
  /** Overlay name, e.g. `rpi_generic`. */
  name: string;
  /** Free-form overlay options (Go `map[string]any`); null when absent. */
  options: GoMap | null;
}

export interface MetaValue {
  /** META tag, 0–255. */
  key: number;
  value: string;
}

export interface SystemExtensions {
  officialExtensions: string[];
}

export interface SecureBootCustomization {
  /** `off`, `manual`, `if-safe` or `force`; checked lazily, when a secure boot asset is built. */
  enrollKeys: string;
  includeWellKnownCertificates: boolean;
}

export interface DiskImageCustomization {
  /** Disk image sector size in bytes; 0 means the default. */
  sectorSize: number;
}

export interface Customization {
  embeddedMachineConfiguration: string;
  extraKernelArgs: string[];
  meta: MetaValue[];
  systemExtensions: SystemExtensions;
  bootloader: BootloaderKind;
  secureboot: SecureBootCustomization;
  diskImage: DiskImageCustomization;
}

export interface Schematic {
  /** Enterprise only: set by the factory from the caller. Rejected when non-empty here. */
  owner: string;
  overlay: Overlay;
  customization: Customization;
}

/** Any part of a schematic; missing fields take their zero values (see `createSchematic`). */
export type SchematicInit = {
  owner?: string;
  overlay?: Partial<Overlay>;
  customization?: {
    [K in keyof Customization]?: Customization[K] extends object
      ? Customization[K] extends unknown[]
        ? Customization[K]
        : Partial<Customization[K]>
      : Customization[K];
  };
};

/** A schematic with every field set: zero values, then `init`. */
export function createSchematic(init: SchematicInit = {}): Schematic {
  const c = init.customization ?? {};
  return {
    owner: init.owner ?? "",
    overlay: {
      image: init.overlay?.image ?? "",
      name: init.overlay?.name ?? "",
      options: init.overlay?.options ?? null,
    },
    customization: {
      embeddedMachineConfiguration: c.embeddedMachineConfiguration ?? "",
      extraKernelArgs: [...(c.extraKernelArgs ?? [])],
      meta: (c.meta ?? []).map((m) => ({ key: m.key, value: m.value })),
      systemExtensions: { officialExtensions: [...(c.systemExtensions?.officialExtensions ?? [])] },
      bootloader: c.bootloader ?? "none",
      secureboot: {
        enrollKeys: c.secureboot?.enrollKeys ?? "",
        includeWellKnownCertificates: c.secureboot?.includeWellKnownCertificates ?? false,
      },
      diskImage: { sectorSize: c.diskImage?.sectorSize ?? 0 },
    },
  };
}

const str = { type: "string" } as const;

/** The upstream Go types, for the strict decoder. */
export const SCHEMATIC_SPEC: Spec = {
  type: "struct",
  name: "schematic",
  fields: {
    owner: str,
    overlay: {
      type: "struct",
      name: "overlay",
      fields: { image: str, name: str, options: { type: "map" } },
    },
    customization: {
      type: "struct",
      name: "customization",
      fields: {
        embeddedMachineConfiguration: str,
        extraKernelArgs: { type: "slice", of: str },
        meta: {
          type: "slice",
          of: {
            type: "struct",
            name: "meta value",
            fields: { key: { type: "uint", bits: 8 }, value: str },
          },
        },
        systemExtensions: {
          type: "struct",
          name: "systemExtensions",
          fields: { officialExtensions: { type: "slice", of: str } },
        },
        bootloader: { type: "enum", name: "bootloader", values: BOOTLOADER_KINDS },
        secureboot: {
          type: "struct",
          name: "secureboot",
          fields: { enrollKeys: str, includeWellKnownCertificates: { type: "bool" } },
        },
        diskImage: {
          type: "struct",
          name: "diskImage",
          fields: { sectorSize: { type: "uint", bits: 64 } },
        },
      },
    },
  },
};

/**
 * Which checklist entries (integration-expectations.json) the fixture release can answer, and
 * how: vector versions map onto fixture versions (exact, or the fixture's release of the same
 * minor, whose rules — command lines, partition sizes, gates — are the same), schematics naming
 * catalog entries the fixture does not have are substituted by fixture equivalents, and the
 * slowest entries (compressed raw disk images) are sampled unless BOOTFORGE_CHECKLIST_FULL=1.
 * Everything not run is reported with a reason; nothing is dropped silently.
 */
import type { InitramfsExpectation } from "./checklist-checks.js";

/** One `downloads` entry of the checklist. */
export interface DownloadEntry {
  test: string;
  talosVersion: string;
  schematic: string;
  path: string;
  check: string;
  status?: number;
  contentDispositionPresent?: boolean;
  contentType?: string;
  contentDisposition?: string;
  magicMime?: string;
  expectedSize?: number;
  sizeTolerance?: number;
  partitionTable?: string;
  partitions?: { label: string; size: number }[];
  probeSectorSize?: number;
  initramfs?: InitramfsExpectation;
  installerTar?: { layerCount: number; artifactsLayerIndex: number; artifactsLayerFilesExactly: string[] };
  origin?: string;
  OPTIONS?: {
    requestHeaders: Record<string, string>;
    "Access-Control-Allow-Origin": string[];
    "Access-Control-Allow-Methods": string;
    "Access-Control-Allow-Headers": string;
  };
  GET?: { "Access-Control-Allow-Origin": string[]; "Access-Control-Expose-Headers-contains": string[] };
  HEAD?: { "Access-Control-Allow-Origin": string[]; "Access-Control-Expose-Headers-contains": string[] };
}

/** A vector schematic. */
export interface VectorSchematic {
  name: string;
  requestBodyJSON: string;
  canonicalYAML: string;
  id: string;
}

/** How a vector version is answered by the fixture release. */
export interface MappedVersion {
  /** The fixture version requested. */
  version: string;
  how: "exact" | "same minor";
}

function minorOf(v: string): string | undefined {
  return /^v?(\d+\.\d+)\.\d+/.exec(v)?.[1];
}

/** The fixture version answering a vector version, or undefined when none does. */
export function mapVersion(vector: string, served: readonly string[]): MappedVersion | undefined {
  if (served.includes(vector)) return { version: vector, how: "exact" };
  const minor = minorOf(vector);
  // Prereleases are not the same rules as the release they precede.
  if (minor === undefined || vector.includes("-")) return undefined;
  const same = served.filter((s) => minorOf(s) === minor && !s.includes("-"));
  return same.length > 0 ? { version: same[same.length - 1]!, how: "same minor" } : undefined;
}

/**
 * Fixture stand-ins for vector schematics whose catalog entries only real Talos releases have:
 * the schematic sent instead and how expectations translate (names, early paths, modules.dep).
 */
export interface Substitute {
  body: unknown;
  names: Record<string, string>;
  earlyPaths: Record<string, string>;
  modulesDep: Record<string, string>;
  why: string;
}

export const SUBSTITUTES: Readonly<Record<string, Substitute>> = {
  systemExtensions: {
    body: {
      customization: {
        systemExtensions: {
          officialExtensions: [
            "siderolabs/intel-ucode",
            "siderolabs/bootforge-hello",
            "siderolabs/bootforge-dummy-module",
          ],
        },
      },
    },
    names: {
      "amd-ucode": "intel-ucode",
      gvisor: "bootforge-hello",
      "gasket-driver": "bootforge-dummy-module",
    },
    earlyPaths: { "kernel/x86/microcode/AuthenticAMD.bin": "kernel/x86/microcode/GenuineIntel.bin" },
    modulesDep: { gasket: "dummy", "mlxfw.ko": "extras/dummy.ko" },
    why: "amd-ucode/gvisor/gasket-driver → fixture intel-ucode (microcode), bootforge-hello (userspace), bootforge-dummy-module (kernel module)",
  },
  rpiGenericOverlay: {
    body: { overlay: { name: "bootforge_sbc", image: "siderolabs/sbc-bootforge" } },
    names: {},
    earlyPaths: {},
    modulesDep: {},
    why: "rpi_generic overlay → fixture bootforge_sbc overlay",
  },
};

/** Vector schematics that only an Enterprise build or another release could answer. */
export const UNAVAILABLE_SCHEMATICS: Readonly<Record<string, string>> = {
  extraExtensions: "Enterprise-only extra extensions catalog",
};

/**
 * Disk-image outputs: each is a full multi-GiB disk build plus a compression or conversion pass
 * (30 s to several minutes on two shared cores).
 */
export function isHeavy(path: string): boolean {
  return /\.(raw(\.(xz|zst|gz|tar\.gz))?|qcow2|ova|vhd(\.xz)?)$/.test(path);
}

/** Schematics that change the disk layout itself, so their disk images are always worth building. */
const LAYOUT_SCHEMATICS = new Set([
  "rpiGenericOverlay",
  "bootloaderGrub",
  "bootloaderSDBoot",
  "diskImage4kSector",
]);

/** True when every checklist entry should run, however slow. */
export const FULL = process.env.BOOTFORGE_CHECKLIST_FULL === "1";

/** The asset an entry downloads: entries with equal keys share one build. */
export function assetKey(e: { mapped: string; schematic: string; path: string }): string {
  return `${e.mapped}|${e.schematic}|${e.path}`;
}

/**
 * Picks the disk images the default run builds. The primary version (the fixture version with the
 * most entries) gets one image per distinct partition layout — zstd, the fastest to build and
 * unpack; schematics that change the layout (bootloader overrides, 4K sectors, the SBC overlay,
 * whose image is small) are built for every version. Everything else (other compressions, qcow2,
 * ova, cloud platforms: the same disk build with another final pass) is listed as sampled out.
 */
export function sampleHeavy(entries: readonly (DownloadEntry & { mapped: string })[]): Set<string> {
  const perVersion = new Map<string, number>();
  for (const e of entries) perVersion.set(e.mapped, (perVersion.get(e.mapped) ?? 0) + 1);
  const primary = [...perVersion.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const picked = new Set<string>();
  const layouts = new Set<string>();
  for (const e of entries) {
    if (!isHeavy(e.path)) continue;
    if (LAYOUT_SCHEMATICS.has(e.schematic) && e.check === "diskImage") {
      picked.add(assetKey(e));
      continue;
    }
    if (e.mapped !== primary) continue;
    if (e.check === "diskImage" && e.path.endsWith(".zst")) {
      const k = `${e.probeSectorSize ?? 512}|${JSON.stringify(e.partitions)}`;
      if (!layouts.has(k)) picked.add(assetKey(e));
      layouts.add(k);
    }
  }
  return picked;
}

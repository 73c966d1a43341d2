/**
 * A real UiBackend for tests: catalogs parsed with the release parsers from the shared vectors
 * plus a few realistic entries, schematics created with the schematic module and kept in memory.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { UiBackend } from "../../src/factory/ui/index.js";
import {
  parseExtensionsCatalog,
  parseOverlaysCatalog,
  type ExtensionEntry,
  type OverlayEntry,
} from "../../src/release/catalogs.js";
import { servedVersions } from "../../src/release/versions.js";
import { canonicalSchematic, parseSchematic, schematicId } from "../../src/schematic/index.js";
import { atLeast, parseTalosVersion } from "../../src/profile/version.js";
import { sharedPath } from "../helpers/shared.js";

/** A deterministic digest for the entries written here. */
const digestOf = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

const IMAGER_TAGS = [
  "v1.4.8",
  "v1.5.5",
  "v1.7.7",
  "v1.9.6",
  "v1.10.7",
  "v1.11.5",
  "v1.12.4",
  "v1.13.0",
  "v1.13.0-rc.1",
  "v1.14.0-alpha.1",
  "v1.14.0-beta.0",
];

const OWN_EXTENSIONS: [string, string, string][] = [
  ["siderolabs/amd-ucode", "20250311", "This system extension provides AMD microcode binaries."],
  [
    "siderolabs/gvisor",
    "20250505.0",
    "This system extension provides gVisor using containerd's runtime handler.",
  ],
  ["siderolabs/intel-ucode", "20250211", "This system extension provides Intel microcode binaries."],
  ["siderolabs/iscsi-tools", "v0.2.0", "This system extension provides iscsi-tools."],
  ["siderolabs/qemu-guest-agent", "10.0.0", "This system extension provides the QEMU Guest Agent service."],
  ["siderolabs/util-linux-tools", "2.41", "This system extension provides util-linux tools."],
  ["siderolabs/metal-agent", "v0.1.3", "Agent for Omni bare-metal provisioning (hidden by the UI)."],
];

function extensionsCatalog(): ExtensionEntry[] {
  const lines = OWN_EXTENSIONS.map(([n, t]) => `ghcr.io/${n}:${t}@${digestOf(n)}`);
  const desc = OWN_EXTENSIONS.map(
    ([, , d], i) => `${lines[i]}:\n  author: Sidero Labs\n  description: |\n    ${d}\n`,
  ).join("");
  const own = parseExtensionsCatalog(lines.join("\n"), desc, "ghcr.io", "");
  // The upstream integration fixture (a third-party catalog entry), parsed the same way.
  const fixture = parseExtensionsCatalog(
    readFileSync(sharedPath("vectors/catalogs/extensions/image-digests"), "utf8"),
    readFileSync(sharedPath("vectors/catalogs/extensions/descriptions.yaml"), "utf8"),
    "ghcr.io",
    "",
  );
  return [...own, ...fixture];
}

function overlaysCatalog(): OverlayEntry[] {
  // The upstream overlays source list, given digests as the overlays image would.
  const source = readFileSync(sharedPath("vectors/catalogs/overlays/overlays.source.yaml"), "utf8");
  const withDigests = source.replace(
    /^(\s+image: (\S+))$/gm,
    (_m, line: string, image: string) => `${line}\n    digest: ${digestOf(image)}`,
  );
  return parseOverlaysCatalog(withDigests);
}

/** The test backend; `externalURL` is set once the server knows its port. */
export class TestBackend implements UiBackend {
  externalURL = "http://127.0.0.1";
  externalPXEURL = "http://127.0.0.1";
  readonly serverVersion = "v0.1.0-test";
  readonly stored = new Map<string, string>();
  private readonly ext = extensionsCatalog();
  private readonly ovl = overlaysCatalog();

  versions(): Promise<string[]> {
    return Promise.resolve(
      servedVersions(IMAGER_TAGS, { minTalosVersion: "1.2.0", brokenTalosVersions: [] }).map((v) => v.tag),
    );
  }
  extensions(_version: string): Promise<ExtensionEntry[]> {
    return Promise.resolve(this.ext);
  }
  overlays(version: string): Promise<OverlayEntry[]> {
    const v = parseTalosVersion(version);
    return Promise.resolve(v !== undefined && atLeast(v, 1, 7) ? this.ovl : []);
  }
  createSchematic(yamlText: string): Promise<{ id: string; yaml: string }> {
    try {
      const s = parseSchematic(yamlText);
      const yaml = canonicalSchematic(s);
      const id = schematicId(s);
      this.stored.set(id, yaml);
      return Promise.resolve({ id, yaml });
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
  getSchematic(id: string): Promise<string | undefined> {
    return Promise.resolve(this.stored.get(id));
  }
}

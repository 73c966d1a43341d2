/**
 * Everything the result page lists for a schematic: boot asset links per boot method, extra
 * assets, installer references, and the equivalent `curl` and `imager` commands. Pure, so the
 * page, its tests and the factory's integration test all use the same list.
 */
import type { ExtensionEntry, OverlayEntry } from "../../release/catalogs.js";
import { notOnlyDiskImage, platformAssets, type PlatformInfo } from "../../profile/platforms.js";
import type { Board } from "./boards.js";
import { features } from "./flow.js";
import { parseOverlayOptions } from "./to-schematic.js";

/** One link the result page shows. `method` says how a client should probe it. */
export interface AssetLink {
  /** Stable identifier for tests and anchors (`disk-image`, `iso`, `pxe`, `kernel`…). */
  readonly id: string;
  readonly label: string;
  readonly url: string;
  /** `/image/...` answers HEAD; `/pxe/...` is GET only (as upstream). */
  readonly method: "HEAD" | "GET";
}

/** The inputs of the result page. */
export interface FinalInput {
  externalURL: string;
  externalPXEURL: string;
  schematicId: string;
  schematicYaml: string;
  /** Version without `v`. */
  version: string;
  platform: PlatformInfo;
  arch: string;
  secureboot: boolean;
  board?: Board | undefined;
  overlay?: OverlayEntry | undefined;
  catalog: readonly ExtensionEntry[];
  extensions: readonly string[];
  cmdline: string;
  overlayOptions: string;
  embeddedConfig: string;
}

/** What the result page shows, in page order. */
export interface FinalContent {
  firstBoot: AssetLink[];
  extraAssets: AssetLink[];
  /** `<host>/<platform>-installer[-secureboot]/<id>:v<ver>` (or `installer…` before 1.10). */
  installerImage: string;
  /** True when the page shows the "initial installation" section (metal, or not disk-image only). */
  showInstall: boolean;
  upgradeCommand: string;
  localClusterCommand?: string;
  curlCommand: string;
  imagerCommand: string;
}

const trimSlash = (s: string) => s.replace(/\/+$/, "");

/** Quotes a shell word only when it needs it (POSIX single quotes). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Builds the result page content. */
export function finalContent(i: FinalInput): FinalContent {
  const base = trimSlash(i.externalURL);
  const v = `v${i.version}`;
  const image = (file: string) => `${base}/image/${i.schematicId}/${v}/${file}`;
  const p = i.platform;
  const sb = i.secureboot;
  const f = features(i.version);

  const firstBoot: AssetLink[] = [];
  if (i.board !== undefined) {
    // SBCs boot from a metal arm64 disk image carrying the overlay from the schematic.
    firstBoot.push({ id: "disk-image", label: "Disk image", url: image("metal-arm64.raw.xz"), method: "HEAD" });
  } else {
    for (const m of p.bootMethods) {
      if (m === "disk-image") {
        firstBoot.push({ id: "disk-image", label: "Disk image", url: image(platformAssets.diskImage(p, i.arch, sb)), method: "HEAD" });
        if (p.name === "metal") {
          firstBoot.push({ id: "disk-image-qcow2", label: "Disk image (QCOW2)", url: image(platformAssets.diskImage(p, i.arch, sb, "qcow2")), method: "HEAD" });
        }
      } else if (m === "iso") {
        firstBoot.push({ id: "iso", label: "ISO", url: image(platformAssets.iso(p, i.arch, sb)), method: "HEAD" });
      } else {
        const pxe = `${trimSlash(i.externalPXEURL)}/pxe/${i.schematicId}/${v}/${platformAssets.pxeScript(p, i.arch, sb)}`;
        firstBoot.push({ id: "pxe", label: "PXE boot (iPXE script URL)", url: pxe, method: "GET" });
      }
    }
  }

  const extraAssets: AssetLink[] = [];
  if (i.board === undefined && p.name === "metal") {
    if (sb) {
      extraAssets.push({ id: "uki-secureboot", label: "SecureBoot UKI", url: image(platformAssets.uki(p, i.arch, true)), method: "HEAD" });
    } else {
      extraAssets.push({ id: "kernel", label: "Kernel", url: image(platformAssets.kernel(p, i.arch)), method: "HEAD" });
      extraAssets.push({ id: "cmdline", label: "Kernel command line", url: image(platformAssets.cmdline(p, i.arch)), method: "HEAD" });
      extraAssets.push({ id: "initramfs", label: "Initramfs", url: image(platformAssets.initramfs(p, i.arch)), method: "HEAD" });
      if (f.secureBoot) extraAssets.push({ id: "uki", label: "UKI", url: image(platformAssets.uki(p, i.arch)), method: "HEAD" });
    }
  }

  const host = new URL(base).host;
  const sbSuffix = sb ? "-secureboot" : "";
  const installerName = f.unifiedInstaller ? `${p.name}-installer${sbSuffix}` : `installer${sbSuffix}`;
  const installerImage = `${host}/${installerName}/${i.schematicId}:${v}`;

  const out: FinalContent = {
    firstBoot,
    extraAssets,
    installerImage,
    showInstall: i.board !== undefined || p.name === "metal" || notOnlyDiskImage(p),
    upgradeCommand: `talosctl upgrade --image ${installerImage}`,
    curlCommand: `curl -X POST --data-binary @- ${base}/schematics <<'SCHEMATIC'\n${i.schematicYaml}SCHEMATIC`,
    imagerCommand: imagerCommand(i),
  };
  if (f.localCluster) {
    out.localClusterCommand = `talosctl cluster create qemu --schematic-id=${i.schematicId} --talos-version=${v}`;
  }
  return out;
}

/** The `imager` invocation that builds the first boot asset of the same schematic. */
function imagerCommand(i: FinalInput): string {
  const p = i.platform;
  const words: string[] = ["imager"];
  const disk = i.board !== undefined || p.bootMethods.includes("disk-image");
  const profile = disk ? p.name : "iso";
  words.push(i.secureboot ? `secureboot-${profile}` : profile, "--talos-version", `v${i.version}`, "--arch", i.arch);
  if (!disk && p.name !== "metal") words.push("--platform", p.name);
  for (const name of [...i.extensions].sort()) {
    const e = i.catalog.find((x) => x.name === name);
    words.push("--system-extension-image", e === undefined ? name : `${e.ref}@${e.digest}`);
  }
  for (const a of i.cmdline.split(/\s+/).filter((x) => x !== "")) words.push(`--extra-kernel-arg=${a}`);
  if (i.board !== undefined) {
    words.push("--overlay-name", i.board.overlayName);
    words.push("--overlay-image", i.overlay === undefined ? i.board.overlayImage : `${i.overlay.ref}@${i.overlay.digest}`);
    const options = parseOverlayOptions(i.overlayOptions);
    for (const [k, val] of Object.entries(options ?? {})) {
      words.push("--overlay-option", `${k}=${typeof val === "string" ? val : JSON.stringify(val)}`);
    }
  }
  if (i.embeddedConfig.trim() !== "") words.push("--embedded-config-path", "machine-config.yaml");
  return words.map(shellQuote).join(" ");
}

/**
 * The installer container image as upstream's `outInstaller` writes it (imager.md §10): base
 * installer layers (only the first when the base has exactly two), an artifacts layer, an overlay
 * layer when an overlay is set; runtime config copied from the base; a docker-archive tar
 * (`sha256:<hex>` config, `<hex>.tar.gz` layers, `manifest.json` tagged with the base ref).
 * Unlike upstream, `created` is SOURCE_DATE_EPOCH, so the tar is reproducible.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { invalidInput } from "../../errors/index.js";
import { TarWriter } from "../../oci/archive-writer.js";
import { digestHex, sha256Of } from "../../oci/digest.js";
import { resolveImage } from "../../oci/image.js";
import { writeLayerStream, type BuiltLayer } from "../../oci/layer-builder.js";
import type { ImageSource } from "../../oci/source.js";
import type { OverlayOptionValue } from "../../profile/model.js";
import { Quirks } from "../../profile/quirks.js";
import { encodeExtraOptions } from "../overlay/protocol.js";
import { layerTar, walkEntries, type FileEntry } from "./layer-files.js";

/** The boot artifacts the installer carries. */
export type InstallerArtifacts =
  { kind: "uki"; uki: string; sdBoot: string } | { kind: "kernel"; kernel: string; initramfs: string };

/** Options of `buildInstallerImage`. */
export interface InstallerImageOptions {
  /** Where the base installer is read from, and the name of the image in it. */
  base: { source: ImageSource; ref: string };
  /** Recorded as the archive's RepoTag (upstream: the base installer reference). */
  repoTag?: string;
  arch: "amd64" | "arm64";
  version: string;
  secureboot?: boolean;
  artifacts: InstallerArtifacts;
  /** Extracted overlay image root and the selected installer name. */
  overlay?: { root: string; installerName: string; extraOptions?: { [key: string]: OverlayOptionValue } };
  /** The tar to write (`installer-<arch>[-secureboot].tar`). */
  output: string;
  /** SOURCE_DATE_EPOCH for `created` (default 0). */
  epoch?: number;
  scratchDir?: string;
}

/** The layout of the artifacts layer for this version and SecureBoot setting. */
export function artifactEntries(
  o: Pick<InstallerImageOptions, "arch" | "version" | "secureboot" | "artifacts">,
): FileEntry[] {
  const dir = `usr/install/${o.arch}`;
  const ukiEra = new Quirks(o.version).supportsUKIProfiles;
  const a = o.artifacts;
  if (ukiEra || o.secureboot) {
    if (a.kind !== "uki") throw invalidInput("this installer needs a UKI and systemd-boot");
    const ukiName = o.secureboot && !ukiEra ? "vmlinuz.efi.signed" : "vmlinuz.efi";
    return [
      { path: `${dir}/systemd-boot.efi`, kind: "file", source: a.sdBoot, mode: 0 },
      { path: `${dir}/${ukiName}`, kind: "file", source: a.uki, mode: 0 },
    ];
  }
  if (a.kind !== "kernel") throw invalidInput("this installer needs a kernel and an initramfs");
  return [
    { path: `${dir}/vmlinuz`, kind: "file", source: a.kernel, mode: 0 },
    { path: `${dir}/initramfs.xz`, kind: "file", source: a.initramfs, mode: 0 },
  ];
}

/** What was written. */
export interface InstallerImageResult {
  path: string;
  configDigest: string;
  layers: string[];
}

/** Writes the installer image docker-archive; nothing is left at `output` on failure. */
export async function buildInstallerImage(o: InstallerImageOptions): Promise<InstallerImageResult> {
  const platform = { os: "linux", architecture: o.arch };
  const base = await resolveImage(o.base.source, o.base.ref, platform);
  const baseLayers =
    base.manifest.layers.length === 2 ? base.manifest.layers.slice(0, 1) : base.manifest.layers;
  const baseDiffIds = base.config.rootfs?.diff_ids ?? [];
  if (baseDiffIds.length !== base.manifest.layers.length) {
    throw invalidInput(`base installer ${o.base.source.description}: config and manifest disagree on layers`);
  }
  const scratch = await mkdtemp(join(o.scratchDir ?? tmpdir(), "bootforge-installer-"));
  const partial = join(dirname(o.output), `.${process.pid}-${Date.now()}.tar.partial`);
  try {
    const added: BuiltLayer[] = [await writeLayerStream(layerTar(artifactEntries(o)), scratch)];
    if (o.overlay) {
      // staged as upstream does: <tmp>/overlay-installer/overlay/{artifacts,installers/default,extra-options}
      const stage = join(scratch, "overlay-installer");
      const entries: FileEntry[] = [
        { path: "overlay", kind: "dir", mode: 0o755 },
        ...(await walkEntries(join(o.overlay.root, "artifacts"), "overlay/artifacts")),
        { path: "overlay/installers", kind: "dir", mode: 0o755 },
        {
          path: "overlay/installers/default",
          kind: "file",
          source: join(o.overlay.root, "installers", o.overlay.installerName),
          mode: 0o755,
        },
      ];
      await mkdir(stage, { recursive: true });
      const extra = join(stage, "extra-options");
      await writeFile(extra, encodeExtraOptions(o.overlay.extraOptions));
      entries.push({ path: "overlay/extra-options", kind: "file", source: extra, mode: 0o644 });
      added.push(await writeLayerStream(layerTar(entries), scratch));
    }
    // go-containerregistry's ConfigFile field order; runtime config deep-copied from the base
    const config = {
      architecture: o.arch,
      created: new Date((o.epoch ?? 0) * 1000).toISOString().replace(/\.000Z$/, "Z"),
      os: "linux",
      rootfs: {
        type: "layers",
        diff_ids: [...baseDiffIds.slice(0, baseLayers.length), ...added.map((l) => l.diffId)],
      },
      config: structuredClone(base.config.config ?? {}),
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configName = `sha256:${digestHex(sha256Of(configBytes))}`;
    const layerNames: string[] = [];
    const out = createWriteStream(partial);
    const w = new TarWriter(out, 0);
    try {
      await w.bytes(configName, configBytes);
      for (const l of baseLayers) {
        const name = `${digestHex(l.digest)}.tar.gz`;
        if (!l.mediaType.endsWith("gzip")) {
          throw invalidInput(`base installer layer ${l.digest} is not gzip-compressed (${l.mediaType})`);
        }
        layerNames.push(name);
        await w.stream(name, l.size, await o.base.source.blob(l));
      }
      for (const l of added) {
        const name = `${digestHex(l.descriptor.digest)}.tar.gz`;
        layerNames.push(name);
        await w.stream(name, l.descriptor.size, createReadStream(l.path));
      }
      const manifest = [{ Config: configName, RepoTags: o.repoTag ? [o.repoTag] : [], Layers: layerNames }];
      await w.bytes("manifest.json", Buffer.from(JSON.stringify(manifest)));
      await w.finish();
    } catch (e) {
      w.abort(e as Error);
      throw e;
    }
    await rename(partial, o.output);
    return { path: o.output, configDigest: `sha256:${digestHex(sha256Of(configBytes))}`, layers: layerNames };
  } finally {
    await rm(partial, { force: true });
    await rm(scratch, { recursive: true, force: true });
  }
}

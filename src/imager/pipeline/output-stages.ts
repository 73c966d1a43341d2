/**
 * The part-2 output stages as the pipeline calls them: adapters from an `OutputStageRequest` onto
 * `imager/disk` (`image`) and `imager/installer` (`installer`). The pipeline already built the
 * initramfs, command line and UKI and compresses the result itself, so these only assemble.
 */
import { join } from "node:path";
import { invalidInput, unsupported } from "../../errors/index.js";
import { OciLayout } from "../../oci/layout.js";
import { formatReference, parseReference } from "../../oci/reference.js";
import type { ImageSource } from "../../oci/source.js";
import { Quirks } from "../../profile/quirks.js";
import { buildImageOutput } from "../disk/image.js";
import { imageCacheSize } from "../image-cache/image-cache.js";
import { buildInstallerImage, type InstallerArtifacts } from "../installer/installer-image.js";
import { progress } from "../reporter/reporter.js";
import type { OutputStageRequest } from "./types.js";

function targetArch(arch: string | undefined): "amd64" | "arm64" {
  if (arch !== "amd64" && arch !== "arm64") throw unsupported(`unsupported architecture ${String(arch)}`);
  return arch;
}

/** `image` output (upstream `outImage`): "creating disk image..." … "disk image ready". */
export async function buildImageStage(req: OutputStageRequest): Promise<void> {
  const { profile, reporter } = req;
  const stage = "creating disk image...";
  reporter.report({ message: stage, status: "running" });
  const bootloader = profile.output?.imageOptions?.bootloader;
  // GRUB (and dual-boot's BIOS half) boots with the release's GRUB, never the host's.
  const grubDir =
    bootloader === "grub" || bootloader === "dual-boot"
      ? await req.inputs.release.imagerPath("/usr/lib/grub")
      : undefined;
  let size = profile.output?.imageOptions?.diskSize ?? 0;
  if (req.imageCacheDir) {
    // buildImageOutput grows the disk by the same amount; upstream reports it before creating the disk.
    const cacheSize = await imageCacheSize(req.imageCacheDir);
    progress(reporter, stage, `updating image size to accommodate image cache: +${humanizeBytes(cacheSize)}`);
    size += cacheSize;
  }
  progress(reporter, stage, `creating raw disk of size ${humanizeBytes(size)}`);
  await buildImageOutput({
    profile,
    cmdline: req.cmdline,
    inputs: {
      kernel: req.kernel,
      initramfs: req.initramfs,
      ...(req.uki ? { uki: req.uki } : {}),
      ...(req.sdBoot ? { sdBoot: req.sdBoot } : {}),
      ...(grubDir ? { grubDir } : {}),
      ...(req.enrollKeys ? { enrollKeys: req.enrollKeys } : {}),
    },
    output: req.out,
    compress: false,
    ...(req.overlay
      ? {
          overlay: {
            dir: req.overlay.dir,
            partitionOffset: req.overlay.options.partitionOffset,
            ...(req.overlay.extraOptions ? { extraOptions: req.overlay.extraOptions } : {}),
          },
        }
      : {}),
    ...(req.imageCacheDir ? { imageCacheDir: req.imageCacheDir } : {}),
    epoch: req.sourceDateEpoch,
    scratchDir: req.workDir,
    ...(req.signal ? { signal: req.signal } : {}),
  });
  reporter.report({ message: "disk image ready", status: "succeeded" });
}

/** go-humanize `Bytes` (SI units, one decimal below 10), as upstream's "creating raw disk" line. */
export function humanizeBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return `${val < 10 ? val.toFixed(1) : val.toFixed(0)} ${units[e]}`;
}

/** The base installer image: an OCI layout path, or a reference resolved through the release source. */
async function openBaseInstaller(
  req: OutputStageRequest,
): Promise<{ source: ImageSource; ref: string; repoTag?: string }> {
  const base = req.profile.input?.baseInstaller;
  if (base?.ociPath) return { source: await OciLayout.open(base.ociPath), ref: "" };
  if (!base?.imageRef) {
    throw invalidInput("the installer output needs a base installer image (--base-installer-image)");
  }
  const ref = parseReference(base.imageRef);
  const image = await req.inputs.release.resolve(ref, base.forceInsecure === true);
  // go-containerregistry records RepoTags for tag references only, never for digests.
  return {
    source: image.source,
    ref: image.descriptor.digest,
    ...(ref.digest === undefined ? { repoTag: formatReference(ref) } : {}),
  };
}

/** `installer` output (upstream `outInstaller`): "building installer..." … "installer container image ready". */
export async function buildInstallerStage(req: OutputStageRequest): Promise<void> {
  const { profile, reporter } = req;
  const stage = "building installer...";
  reporter.report({ message: stage, status: "running" });
  const arch = targetArch(profile.arch);
  const version = profile.version ?? "";
  const secureboot = profile.secureboot === true;
  const ukiEra = new Quirks(version).supportsUKIProfiles || secureboot;
  let artifacts: InstallerArtifacts;
  if (ukiEra) {
    if (!req.uki || !req.sdBoot) throw invalidInput("this installer needs a UKI and systemd-boot");
    artifacts = { kind: "uki", uki: req.uki, sdBoot: req.sdBoot };
  } else {
    artifacts = { kind: "kernel", kernel: req.kernel, initramfs: req.initramfs };
  }
  progress(reporter, stage, "creating empty image");
  const base = await openBaseInstaller(req);
  progress(reporter, stage, "generating artifacts layer");
  if (req.overlay) {
    progress(reporter, stage, "pulling overlay for installer...");
    progress(reporter, stage, "generating overlay installer layer");
  }
  progress(reporter, stage, "writing image tarball");
  await buildInstallerImage({
    base: { source: base.source, ref: base.ref },
    ...(base.repoTag ? { repoTag: base.repoTag } : {}),
    arch,
    version,
    secureboot,
    artifacts,
    ...(req.overlay
      ? {
          overlay: {
            root: req.overlay.dir.root,
            installerName: req.overlay.dir.installerName,
            ...(req.overlay.extraOptions ? { extraOptions: req.overlay.extraOptions } : {}),
          },
        }
      : {}),
    output: req.out,
    epoch: req.sourceDateEpoch,
    scratchDir: join(req.workDir),
  });
  reporter.report({ message: "installer container image ready", status: "succeeded" });
}

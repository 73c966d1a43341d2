/**
 * The `installer` output stage as the imager pipeline calls it (`Stages.buildInstaller`), on the
 * installer module: the profile's base installer resolved through the release (per arch, by
 * digest), the UKI and systemd-boot (UKI era) or kernel and initramfs as the artifacts layer.
 * (An adapter the pipeline's own stage table can adopt; until then the factory supplies it.)
 */
import { buildInstallerImage, type InstallerArtifacts } from "../../build/installer/index.js";
import type { OutputStageRequest } from "../../build/pipeline/types.js";
import { invalidInput, unsupported } from "../../errors/index.js";
import { parseReference } from "../../oci/reference.js";
import { Quirks } from "../../profile/quirks.js";

/** Builds an installer docker-archive (no overlay) into `req.out`. */
export async function buildInstallerStage(req: OutputStageRequest): Promise<void> {
  const p = req.profile;
  if (p.overlay !== undefined) throw unsupported("overlays are not supported by this Bootforge build yet");
  const arch = p.arch;
  if (arch !== "amd64" && arch !== "arm64") throw unsupported(`unsupported architecture ${String(arch)}`);
  const ref = p.input?.baseInstaller?.imageRef;
  if (!ref) throw invalidInput("the profile names no base installer image");
  const base = await req.inputs.release.resolve(parseReference(ref));
  const version = p.version ?? "";
  const ukiEra = new Quirks(version).supportsUKIProfiles || p.secureboot === true;
  let artifacts: InstallerArtifacts;
  if (ukiEra) {
    if (!req.uki || !req.sdBoot) throw invalidInput("this installer needs a UKI and systemd-boot");
    artifacts = { kind: "uki", uki: req.uki, sdBoot: req.sdBoot };
  } else {
    artifacts = { kind: "kernel", kernel: req.kernel, initramfs: req.initramfs };
  }
  await buildInstallerImage({
    base: { source: base.source, ref: base.descriptor.digest },
    repoTag: ref,
    arch,
    version,
    secureboot: p.secureboot === true,
    artifacts,
    output: req.out,
    epoch: req.sourceDateEpoch,
    scratchDir: req.workDir,
  });
}

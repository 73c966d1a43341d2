/**
 * The `image` output stage as the imager pipeline calls it (`Stages.buildImage`), on the disk
 * module: boot files from earlier stages, GRUB modules from the release's imager image. The
 * pipeline compresses after this stage (`outFormat`), so the disk is written uncompressed.
 * (An adapter the pipeline's own stage table can adopt; until then the factory supplies it.)
 */
import { buildImageOutput } from "../../build/disk/index.js";
import type { OutputStageRequest } from "../../build/pipeline/types.js";
import { unsupported } from "../../errors/index.js";

/** Builds a disk image (no overlay, no image cache) into `req.out`. */
export async function buildImageStage(req: OutputStageRequest): Promise<void> {
  if (req.profile.overlay !== undefined)
    throw unsupported("overlays are not supported by this Bootforge build yet");
  if (req.profile.secureboot === true) {
    throw unsupported("SecureBoot disk images are not available in this Bootforge build yet");
  }
  const release = req.inputs.release;
  const grubDir = (await release.hasImagerPath("/usr/lib/grub"))
    ? await release.imagerPath("/usr/lib/grub")
    : undefined;
  await buildImageOutput({
    profile: req.profile,
    cmdline: req.cmdline,
    inputs: {
      kernel: req.kernel,
      initramfs: req.initramfs,
      ...(req.uki ? { uki: req.uki } : {}),
      ...(req.sdBoot ? { sdBoot: req.sdBoot } : {}),
      ...(grubDir ? { grubDir } : {}),
    },
    output: req.out,
    compress: false,
    epoch: req.sourceDateEpoch,
    scratchDir: req.workDir,
    ...(req.signal ? { signal: req.signal } : {}),
  });
}

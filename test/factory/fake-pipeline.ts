/**
 * Test double for the imager pipeline's outputs that have not landed yet: a slow `uki` (to
 * observe single flight and the queue) and installer docker-archives shaped like upstream's
 * (2 layers: installer binary, then the boot artifacts) so the /v2 front end is exercised
 * end to end with skopeo. Replace with the real pipeline when `src/imager/pipeline` lands.
 */
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AssetPipeline, PipelineInput } from "../../src/factory/assets/asset-builder.js";
import { writeDockerArchive } from "../../src/oci/docker-archive.js";
import { assembleImage, writeImage } from "../../src/oci/image-builder.js";
import { buildLayer } from "../../src/oci/layer-builder.js";
import { OciLayout } from "../../src/oci/layout.js";
import type { OutputKind } from "../../src/profile/index.js";

/** Counts builds per kind; `ukiDelayMs` slows UKI builds down. */
export class FakePipeline implements AssetPipeline {
  readonly builds = new Map<string, number>();
  constructor(readonly ukiDelayMs = 300) {}

  supports(kind: OutputKind): boolean {
    return kind === "uki" || kind === "installer";
  }

  async build(input: PipelineInput, outPath: string): Promise<void> {
    const kind = input.enhanced.profile.output?.kind ?? "";
    this.builds.set(kind, (this.builds.get(kind) ?? 0) + 1);
    if (kind === "uki") {
      await new Promise((r) => setTimeout(r, this.ukiDelayMs));
      await writeFile(outPath, `fake uki ${input.schematicId} ${input.arch}\n`);
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), "bootforge-fake-installer-"));
    try {
      const epoch = 0;
      const base = await buildLayer(
        [{ path: "usr/bin/installer", content: "#!/bin/sh\n", mode: 0o755 }],
        dir,
        {
          epoch,
        },
      );
      const arts = await buildLayer(
        [
          { path: `usr/install/${input.arch}/vmlinuz.efi`, content: `uki ${input.schematicId}` },
          { path: `usr/install/${input.arch}/systemd-boot.efi`, content: "sd-boot" },
        ],
        dir,
        { epoch },
      );
      const img = assembleImage({
        layers: [base, arts],
        platform: { os: "linux", architecture: input.arch },
        format: "docker",
      });
      const layout = await OciLayout.create(join(dir, "layout"));
      await writeImage(layout, img, { tag: "installer" });
      await writeDockerArchive(createWriteStream(outPath), [{ source: layout, ref: "installer" }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

/** Test helper: a small two-platform image built from deterministic layers in a temp dir. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assembleImage, assembleIndex, type BuiltImage } from "../image-builder.js";
import { buildLayer, type LayerEntry } from "../layer-builder.js";
import type { ManifestData } from "../client.js";

/** A multi-arch test image: per-arch images plus their index. */
export interface MultiArchFixture {
  dir: string;
  images: BuiltImage[];
  index: ManifestData;
}

/** Two platforms (amd64, arm64/v8), two layers each; the top layer deletes and replaces files. */
export async function multiArchFixture(format: "oci" | "docker" = "oci"): Promise<MultiArchFixture> {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-fixture-"));
  const base: LayerEntry[] = [
    { path: "etc", type: "directory" },
    { path: "etc/os-release", content: "ID=bootforge\n" },
    { path: "etc/gone", content: "deleted by the top layer\n" },
    { path: "opt", type: "directory" },
    { path: "opt/old", type: "directory" },
    { path: "opt/old/a", content: "hidden by an opaque dir\n" },
    { path: "usr", type: "directory" },
    { path: "usr/bin", type: "directory" },
    { path: "usr/bin/tool", content: "v1\n", mode: 0o755 },
    { path: "usr/bin/sh", type: "symlink", linkname: "tool" },
  ];
  const images: BuiltImage[] = [];
  for (const [arch, variant] of [
    ["amd64", undefined],
    ["arm64", "v8"],
  ] as const) {
    const l1 = await buildLayer(base, dir);
    const l2 = await buildLayer(
      [
        { path: "etc", type: "directory" },
        { path: "etc/.wh.gone" },
        { path: "opt", type: "directory" },
        { path: "opt/old", type: "directory" },
        { path: "opt/old/.wh..wh..opq" },
        { path: "opt/old/b", content: "new\n" },
        { path: "usr/bin/tool", content: `v2 ${arch}\n`, mode: 0o755 },
      ],
      dir,
      { compression: arch === "arm64" ? "zstd" : "gzip" },
    );
    images.push(
      assembleImage({
        layers: [l1, l2],
        platform: { os: "linux", architecture: arch, ...(variant ? { variant } : {}) },
        runtimeConfig: { Entrypoint: ["/usr/bin/tool"] },
        format,
      }),
    );
  }
  return { dir, images, index: assembleIndex(images, format) };
}

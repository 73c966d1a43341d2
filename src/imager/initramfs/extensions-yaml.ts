/** `extensions.yaml`: the layer list Talos's init mounts, as upstream's `yaml.NewEncoder(f).Encode(cfg)` writes it. */
import { marshal, type YamlValue } from "../../yaml/emit.js";
import type { ExtensionMetadata } from "../../release/extensions/manifest.js";

/** One squashfs layer: its file name in the initramfs and the extension's metadata. */
export interface ExtensionLayer {
  image: string;
  metadata: ExtensionMetadata;
}

/** An extension's metadata as upstream `extensions.Metadata` marshals it (also in manifest.yaml). */
export function metadataValue(m: ExtensionMetadata): YamlValue {
  // Field order and omitempty of upstream `extensions.Metadata`.
  return {
    name: m.name,
    version: m.version,
    author: m.author,
    description: m.description,
    compatibility: { talos: { version: m.compatibility.talos.version } },
    extraInfo: m.extraInfo === undefined || m.extraInfo === "" ? undefined : m.extraInfo,
  };
}

/** The `extensions.yaml` text for these layers (go-yaml v4 encoder: 4-space indent, 80-column folding). */
export function extensionsYaml(layers: readonly ExtensionLayer[]): string {
  const cfg = { layers: layers.map((l) => ({ image: l.image, metadata: metadataValue(l.metadata) })) };
  return marshal(cfg, { indent: 4, lineWidth: 80 });
}

/**
 * Parsers for the catalog files of a Talos release: the `extensions:<v>` image's `image-digests`
 * and `descriptions.yaml`, and the `overlays:<v>` image's `overlays.yaml`. Pure: they take file
 * contents, the I/O lives with the release source.
 */
import { parse as parseYaml } from "yaml";
import { invalidInput } from "../errors/index.js";

/** One official extension as the factory lists it. */
export interface ExtensionEntry {
  /** Repository path, the name schematics use (`siderolabs/gvisor`). */
  readonly name: string;
  readonly tag: string;
  /** `<registry>/<name>:<tag>`: the identity shown to users. */
  readonly ref: string;
  /** Where to pull it from (`<registry>/<namespace>/<name>:<tag>`). */
  readonly pullReference: string;
  readonly digest: string;
  readonly author: string;
  readonly description: string;
}

/** One official overlay. */
export interface OverlayEntry {
  readonly name: string;
  /** Repository without registry and tag (`siderolabs/sbc-raspberrypi`). */
  readonly image: string;
  /** The reference as written in the catalog. */
  readonly ref: string;
  readonly digest: string;
}

/** `<registry>/<namespace>/<repo>` with an optional namespace (a trailing `/` ignored). */
export function repoWithNamespace(registry: string, namespace: string, repo: string): string {
  const ns = namespace.replace(/\/+$/, "");
  return [registry, ns, repo].filter((p) => p !== "").join("/");
}

interface ParsedRef {
  registry: string;
  repository: string;
  tag: string;
  digest: string;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Splits `<registry>/<repo>:<tag>@<digest>`. */
function parseDigestLine(line: string): ParsedRef {
  const at = line.indexOf("@");
  const name = line.slice(0, at);
  const digest = line.slice(at + 1);
  const slash = name.indexOf("/");
  const colon = name.lastIndexOf(":");
  if (slash <= 0 || colon <= slash || !DIGEST.test(digest)) {
    throw invalidInput(`extensions catalog: malformed image-digests line ${JSON.stringify(line)}`);
  }
  return {
    registry: name.slice(0, slash),
    repository: name.slice(slash + 1, colon),
    tag: name.slice(colon + 1),
    digest,
  };
}

/** Parses the extensions catalog, re-homing images to `registry` (+ `namespace` for pulls). */
export function parseExtensionsCatalog(
  imageDigests: string,
  descriptionsYaml: string | undefined,
  registry: string,
  namespace: string,
): ExtensionEntry[] {
  let descriptions: Record<string, { author?: unknown; description?: unknown }> = {};
  if (descriptionsYaml !== undefined && descriptionsYaml.trim() !== "") {
    let data: unknown;
    try {
      data = parseYaml(descriptionsYaml, { uniqueKeys: true });
    } catch (e) {
      throw invalidInput(`extensions catalog: descriptions.yaml: ${(e as Error).message}`);
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw invalidInput("extensions catalog: descriptions.yaml is not a mapping");
    }
    descriptions = data as typeof descriptions;
  }
  const out: ExtensionEntry[] = [];
  for (const raw of imageDigests.split("\n")) {
    const line = raw.trim();
    if (!line.includes("@")) continue;
    const r = parseDigestLine(line);
    const d = descriptions[line] ?? {};
    out.push({
      name: r.repository,
      tag: r.tag,
      ref: `${registry}/${r.repository}:${r.tag}`,
      pullReference: `${repoWithNamespace(registry, namespace, r.repository)}:${r.tag}`,
      digest: r.digest,
      author: typeof d.author === "string" ? d.author : "",
      description: typeof d.description === "string" ? d.description : "",
    });
  }
  return out;
}

/** Parses `overlays.yaml` (`overlays: [{name, image, digest}]`). */
export function parseOverlaysCatalog(text: string): OverlayEntry[] {
  let data: unknown;
  try {
    data = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw invalidInput(`overlays catalog: ${(e as Error).message}`);
  }
  const list = (data as { overlays?: unknown } | null)?.overlays;
  if (!Array.isArray(list)) throw invalidInput("overlays catalog: missing `overlays` list");
  return list.map((item: unknown, i) => {
    const o = item as { name?: unknown; image?: unknown; digest?: unknown } | null;
    if (typeof o?.name !== "string" || typeof o.image !== "string" || typeof o.digest !== "string") {
      throw invalidInput(`overlays catalog: entry ${i} needs string name, image and digest`);
    }
    const slash = o.image.indexOf("/");
    const colon = o.image.lastIndexOf(":");
    const repo = o.image.slice(slash + 1, colon > slash ? colon : undefined);
    return { name: o.name, image: repo, ref: o.image, digest: o.digest };
  });
}

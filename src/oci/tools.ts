/**
 * The small tools users reach for with `crane`: export a flattened filesystem, push a tarball,
 * list tags, print a digest. Locations are registry references or `oci:<dir>[:name]`,
 * `oci-archive:<file>[:name]`, `docker-archive:<file>[:name]` (skopeo's transport names).
 */
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError } from "../errors/index.js";
import { RegistryClient, type ClientOptions } from "./client.js";
import { DockerArchive } from "./docker-archive.js";
import { flattenImage } from "./flatten.js";
import { copyImage, resolveImage } from "./image.js";
import { OciArchive, OciLayout } from "./layout.js";
import type { Platform } from "./media-types.js";
import { parsePlatform } from "./platform.js";
import { parseReference, parseRepository, referenceTarget } from "./reference.js";
import { RegistrySink, RegistrySource, type ImageSource } from "./source.js";
import { TarIndex } from "./tar-index.js";

/** An opened location: the source and the name within it. */
export interface OpenedSource {
  source: ImageSource;
  ref: string;
}

/** Opens a location string as an image source. */
export async function openSource(location: string, client: RegistryClient): Promise<OpenedSource> {
  const m = /^(oci|oci-archive|docker-archive):(.+)$/.exec(location);
  if (m?.[1] && m[2]) {
    // skopeo's syntax: the path ends at the first colon and the rest names the image, so a name
    // may carry a tag or digest (`oci:<dir>:siderolabs/installer:v1.11.0`).
    const body = m[2];
    const i = body.indexOf(":");
    const path = i > 0 ? body.slice(0, i) : body;
    const ref = i > 0 ? body.slice(i + 1) : "";
    const source =
      m[1] === "oci"
        ? await OciLayout.open(path)
        : m[1] === "oci-archive"
          ? await OciArchive.open(path)
          : await DockerArchive.open(path);
    return { source, ref };
  }
  const ref = parseReference(location);
  return { source: new RegistrySource(client, ref), ref: referenceTarget(ref) };
}

/** Options shared by the tools. */
export interface ToolOptions extends ClientOptions {
  /** `os/arch[/variant]`; defaults to linux/<host arch> for multi-platform images. */
  platform?: string | Platform;
}

function hostPlatform(): Platform {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return { os: "linux", architecture: arch };
}

function platformOf(opts: ToolOptions): Platform {
  if (!opts.platform) return hostPlatform();
  return typeof opts.platform === "string" ? parsePlatform(opts.platform) : opts.platform;
}

/** Writes the flattened filesystem of `location` as an uncompressed tar to `out` (`crane export`). */
export async function exportImage(location: string, out: Writable, opts: ToolOptions = {}): Promise<void> {
  const client = new RegistryClient(opts);
  const { source, ref } = await openSource(location, client);
  const image = await resolveImage(source, ref, platformOf(opts));
  await pipeline(flattenImage(image), out);
}

/** Pushes a docker-archive or OCI tar to `ref` (`crane push`); returns the pushed digest. */
export async function pushArchive(
  tarPath: string,
  target: string,
  opts: ToolOptions & { name?: string } = {},
): Promise<string> {
  const client = new RegistryClient(opts);
  const dest = parseReference(target);
  const idx = await TarIndex.open(tarPath);
  let source: ImageSource;
  if (idx.get("index.json") && idx.get("oci-layout")) source = await OciArchive.open(tarPath);
  else if (idx.get("manifest.json")) source = await DockerArchive.open(tarPath);
  else throw new BootforgeError("invalid-input", `${tarPath} is neither a docker-archive nor an OCI tar`);
  const root = await copyImage(
    source,
    opts.name ?? "",
    new RegistrySink(client, dest),
    dest.tag ? { tag: dest.tag } : {},
  );
  return root.digest;
}

/** Tags of a repository (`crane ls`), asked for `pageSize` at a time when given (following `Link`). */
export async function listTags(
  repository: string,
  opts: ClientOptions = {},
  pageSize?: number,
): Promise<string[]> {
  const client = new RegistryClient(opts);
  return client.listTags(parseRepository(repository), pageSize);
}

/** The digest `location` names (`crane digest`); with a platform, that platform's manifest digest. */
export async function imageDigest(location: string, opts: ToolOptions = {}): Promise<string> {
  const client = new RegistryClient(opts);
  const { source, ref } = await openSource(location, client);
  if (!opts.platform) return (await source.resolve(ref)).digest;
  return (await resolveImage(source, ref, platformOf(opts))).descriptor.digest;
}

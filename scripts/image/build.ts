/**
 * Builds Bootforge's container image with the project's own OCI writer (src/oci/): per
 * architecture, one layer of Debian 13 packages (rootfs.ts) and one application layer shared by
 * both (app.ts), a config with the entry point, user, environment and OCI labels, and an index of
 * both platforms; written to an OCI tar or pushed to a registry. No container engine, no root:
 * every entry's owner, mode and time are set in the tar, never on disk.
 */
import { execFile } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { BootforgeError } from "../../src/errors/index.js";
import { RegistryClient } from "../../src/oci/client.js";
import { copyImage } from "../../src/oci/image.js";
import { assembleImage, assembleIndex, writeIndex, type BuiltImage } from "../../src/oci/image-builder.js";
import { buildLayer, type LayerEntry } from "../../src/oci/layer-builder.js";
import { OciLayout } from "../../src/oci/layout.js";
import { writeOciArchive } from "../../src/oci/oci-archive.js";
import { parseReference } from "../../src/oci/reference.js";
import { RegistrySink } from "../../src/oci/source.js";
import { TOOL_PACKAGES } from "../../src/imager/tools/registry.js";
import type { Arch } from "../../fixtures/lib/debian-inputs.js";
import { appEntries, compiledDist, productionModules } from "./app.js";
import { imagePackages, rootPackages } from "./image-packages.js";
import { IMAGE_USER, missingPrograms, packageEntries, systemEntries } from "./rootfs.js";

/** What to build and where it goes. */
export interface ImageBuildOptions {
  /** The repository (package.json, src/, bin/). */
  repo: string;
  /** Cache: apt state, .debs, unpacked packages, compiled dist, production node_modules. */
  cache: string;
  lock: string;
  updateLock?: boolean;
  arches: readonly Arch[];
  /** Seconds since the epoch for every time in the image (SOURCE_DATE_EPOCH). */
  epoch: number;
  /** org.opencontainers.image.source (omitted with a warning when unknown). */
  sourceUrl?: string;
  /** The OCI tar to write. */
  out?: string;
  /** A registry reference to push the index to (plain HTTP for loopback hosts). */
  push?: string;
  /** Push over plain HTTP (a loopback test registry). */
  insecure?: boolean;
  /** Name of the image in the OCI tar's index.json (org.opencontainers.image.ref.name). */
  name?: string;
  log: (line: string) => void;
}

/** The result: the index digest, and the layer sizes per architecture. */
export interface ImageBuildResult {
  digest: string;
  platforms: { arch: Arch; manifest: string; bytes: number }[];
}

/** The programs the imager runs that must be in the image (fixture-only tools left out). */
function imagePrograms(): string[] {
  const fixtureOnly = new Set(["apt", "dpkg", "skopeo"]);
  return Object.entries(TOOL_PACKAGES)
    .filter(([, pkg]) => !fixtureOnly.has(pkg))
    .map(([name]) => name);
}

/** Adds the missing parent directories of every entry (a tar without them is still valid, but not tidy). */
function withParents(entries: Map<string, LayerEntry>): LayerEntry[] {
  for (const e of [...entries.values()]) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join("/");
      if (!entries.has(p)) entries.set(p, { path: p, type: "directory" });
    }
  }
  return [...entries.values()];
}

async function git(repo: string, args: string[]): Promise<string | undefined> {
  return promisify(execFile)("git", args, { cwd: repo }).then(
    (r) => r.stdout.trim() || undefined,
    () => undefined,
  );
}

/** Runs the whole build; nothing is left at `out` unless it completed. */
export async function buildContainerImage(o: ImageBuildOptions): Promise<ImageBuildResult> {
  if (o.out === undefined && o.push === undefined && o.updateLock !== true)
    throw new BootforgeError(
      "invalid-input",
      "nothing to do: give --out <file>, --push <reference> or --update-lock",
    );
  const pkg = JSON.parse(await readFile(join(o.repo, "package.json"), "utf8")) as {
    version: string;
    license: string;
  };
  const revision = await git(o.repo, ["rev-parse", "HEAD"]);
  const debDir = join(o.cache, "debs");
  const debs = await imagePackages(o.arches, {
    cache: o.cache,
    debs: debDir,
    lock: o.lock,
    updateLock: o.updateLock === true,
    log: o.log,
  });
  if (o.out === undefined && o.push === undefined) return { digest: "", platforms: [] };

  const dist = await compiledDist(o.repo, o.cache, o.log);
  const modules = await productionModules(o.repo, o.cache, o.log);
  await mkdir(o.cache, { recursive: true });
  const scratch = await mkdtemp(join(o.cache, "build-"));
  try {
    const layout = await OciLayout.create(join(scratch, "layout"));
    // Layers are written where the layout keeps blobs (named by digest), so nothing is copied.
    const layers = join(layout.dir, "blobs", "sha256");
    await mkdir(layers, { recursive: true });
    const app = await buildLayer(await appEntries(o.repo, dist, modules), layers, { epoch: o.epoch });

    const labels: Record<string, string> = {
      "org.opencontainers.image.title": "bootforge",
      "org.opencontainers.image.description": "Bootforge: Talos Linux Image Factory and imager",
      "org.opencontainers.image.version": pkg.version,
      "org.opencontainers.image.licenses": pkg.license,
      ...(revision !== undefined ? { "org.opencontainers.image.revision": revision } : {}),
      ...(o.sourceUrl !== undefined ? { "org.opencontainers.image.source": o.sourceUrl } : {}),
      "org.opencontainers.image.created": new Date(o.epoch * 1000).toISOString(),
    };
    if (o.sourceUrl === undefined)
      o.log(
        "image: warning: no --source URL (nor a git remote); the image has no org.opencontainers.image.source label",
      );
    if (revision === undefined) o.log("image: warning: not a git checkout; the image has no revision label");

    const images: BuiltImage[] = [];
    const platforms: ImageBuildResult["platforms"] = [];
    for (const arch of o.arches) {
      const archDebs = debs[arch];
      o.log(`image: ${arch}: ${archDebs.length} Debian packages`);
      const pkgs = await packageEntries(archDebs, o.cache, debDir);
      for (const e of await systemEntries(pkgs)) pkgs.set(e.path, e);
      // Node.js, the launcher's shell and setsid, and every program the imager runs.
      const missing = missingPrograms(pkgs, ["node", "sh", "setsid", ...imagePrograms()]);
      if (missing.length > 0)
        throw new BootforgeError(
          "dependency",
          `${arch}: the packages ${rootPackages().join(", ")} do not provide ${missing.join(", ")}`,
        );
      const base = await buildLayer(withParents(pkgs), layers, { epoch: o.epoch });
      const image = assembleImage({
        layers: [base, app],
        platform: { architecture: arch, os: "linux", ...(arch === "arm64" ? { variant: "v8" } : {}) },
        created: new Date(o.epoch * 1000).toISOString(),
        runtimeConfig: {
          User: `${IMAGE_USER.uid}:${IMAGE_USER.gid}`,
          Env: [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            `HOME=${IMAGE_USER.home}`,
            // The compiled tree, not tsx (which is a development dependency).
            "BOOTFORGE_DIST=1",
            // A container is reached through its network namespace's interface, not loopback.
            "BOOTFORGE_HTTP_LISTEN=0.0.0.0:8080",
            "BOOTFORGE_STORAGE_DIR=/var/lib/bootforge",
            "NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
          ],
          Entrypoint: ["/usr/local/bin/image-factory"],
          Cmd: ["serve"],
          WorkingDir: IMAGE_USER.home,
          ExposedPorts: { "8080/tcp": {} },
          Labels: labels,
        },
        annotations: labels,
      });
      images.push(image);
      platforms.push({
        arch,
        manifest: image.manifest.digest,
        bytes: base.descriptor.size + app.descriptor.size,
      });
    }
    const index = assembleIndex(images);
    const tag = pkg.version;
    await writeIndex(layout, images, index, tag);

    if (o.out !== undefined) {
      const tmp = join(dirname(o.out), `.${process.pid}.image.tmp`);
      try {
        await writeOciArchive(
          createWriteStream(tmp),
          [{ source: layout, ref: tag, name: o.name ?? `bootforge:${pkg.version}` }],
          o.epoch,
        );
        await rename(tmp, o.out);
      } finally {
        await rm(tmp, { force: true });
      }
      o.log(`image: wrote ${o.out} (${index.digest})`);
    }
    if (o.push !== undefined) {
      const ref = parseReference(o.push);
      const client = new RegistryClient(o.insecure === true ? { insecure: [ref.registry] } : {});
      await copyImage(
        layout,
        tag,
        new RegistrySink(client, ref),
        ref.tag !== undefined ? { tag: ref.tag } : {},
      );
      o.log(`image: pushed ${o.push} (${index.digest})`);
    }
    return { digest: index.digest, platforms };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

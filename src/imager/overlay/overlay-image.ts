/**
 * An extracted overlay image (imager.md §9.1): `/artifacts/**` handed to the installer,
 * `/installers/<name>` executables, `/profiles/<name>.yaml` extra base profiles. Extraction from
 * an image source goes through oci's flatten and safe extract (no escapes, no devices).
 */
import { constants } from "node:fs";
import { access, lstat, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { BootforgeError, invalidInput } from "../../errors/index.js";
import { extractTar } from "../../oci/extract.js";
import { flattenImage } from "../../oci/flatten.js";
import { resolveImage } from "../../oci/image.js";
import type { Platform } from "../../oci/media-types.js";
import type { ImageSource } from "../../oci/source.js";
import { parseProfileYaml } from "../../profile/decode.js";
import type { Profile } from "../../profile/model.js";

/** Paths inside an extracted overlay. */
export interface OverlayDir {
  root: string;
  /** The selected installer executable. */
  installer: string;
  installerName: string;
  artifactsPath: string;
}

/** Flattens the overlay image `ref` of `source` into `dest` (upstream uses the host platform). */
export async function extractOverlayImage(
  source: ImageSource,
  ref: string,
  dest: string,
  platform?: Platform,
): Promise<void> {
  const image = await resolveImage(source, ref, platform);
  await mkdir(dest, { recursive: true });
  await extractTar(flattenImage(image), dest, { decompress: false, skipSpecial: true });
}

/** Opens an extracted overlay and selects installer `name` (default `default`). */
export async function openOverlay(root: string, name = "default"): Promise<OverlayDir> {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") {
    throw invalidInput(`invalid overlay name ${JSON.stringify(name)}`);
  }
  const installer = join(root, "installers", name);
  let st;
  try {
    st = await lstat(installer);
  } catch {
    throw invalidInput(`the overlay image has no installer ${JSON.stringify(name)} (/installers/${name})`);
  }
  if (!st.isFile()) throw invalidInput(`overlay installer /installers/${name} is not a regular file`);
  try {
    await access(installer, constants.X_OK);
  } catch {
    throw invalidInput(`overlay installer /installers/${name} is not executable`);
  }
  return { root, installer, installerName: name, artifactsPath: join(root, "artifacts") };
}

/** The overlay's `/profiles/*.yaml`, by basename; they are looked up before the built-ins. */
export async function overlayProfiles(root: string): Promise<Map<string, Profile>> {
  const dir = join(root, "profiles");
  const out = new Map<string, Profile>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const file of names.sort()) {
    if (!file.endsWith(".yaml")) continue;
    const text = await readFile(join(dir, file), "utf8");
    try {
      out.set(file.slice(0, -".yaml".length), parseProfileYaml(text));
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new BootforgeError("invalid-input", `overlay profile /profiles/${file}: ${msg}`, { cause: e });
    }
  }
  return out;
}

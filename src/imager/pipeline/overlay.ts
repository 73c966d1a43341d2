/**
 * The overlay step of the pipeline (upstream `handleOverlay` and the overlay half of
 * `buildCmdline`, imager.md §9): the overlay image is pulled through the release source (so the
 * release location and cache apply), its profiles are offered to profile resolution, and its
 * installer's `get-options` reply supplies kernel args and the partition offset.
 */
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { invalidInput } from "../../errors/index.js";
import type { ContainerAsset, OverlayOptionValue, Profile } from "../../profile/model.js";
import type { ReleaseSource } from "../../release/release-source.js";
import { openOverlay, overlayProfiles, type OverlayDir } from "../overlay/overlay-image.js";
import { overlayGetOptions, type OverlayInstallerOptions } from "../overlay/protocol.js";

/** An overlay ready for the output stages. */
export interface PipelineOverlay {
  dir: OverlayDir;
  /** The installer's `get-options` reply. */
  options: OverlayInstallerOptions;
  extraOptions?: { [key: string]: OverlayOptionValue };
}

function overlayImage(profile: Profile): ContainerAsset {
  const image = profile.overlay?.image;
  if (!image || (!image.imageRef && !image.ociPath && !image.tarballPath)) {
    throw invalidInput("the overlay names no image: pass --overlay-image");
  }
  return image;
}

/** The extracted overlay image of `profile` (shared, read-only cache directory). */
export async function pullOverlay(release: ReleaseSource, asset: ContainerAsset): Promise<string> {
  // Absolute: the installer is executed by path from inside its sandbox, whose cwd differs.
  return resolve((await release.containerAsset(asset)).dir);
}

/** The overlay's `/profiles/*.yaml`, for `resolveProfile`'s `extraProfiles` (upstream merges them first). */
export async function overlayBaseProfiles(
  release: ReleaseSource,
  profile: Profile,
): Promise<Record<string, Profile>> {
  if (profile.overlay === undefined) return {};
  const root = await pullOverlay(release, overlayImage(profile));
  return Object.fromEntries(await overlayProfiles(root));
}

/** Pulls the overlay, selects its installer and runs `get-options` with the profile's extra options. */
export async function prepareOverlay(
  release: ReleaseSource,
  profile: Profile,
  workDir: string,
  signal?: AbortSignal,
): Promise<PipelineOverlay> {
  const root = await pullOverlay(release, overlayImage(profile));
  const dir = await openOverlay(root, profile.overlay?.name || "default");
  const work = join(workDir, "overlay-get-options");
  await mkdir(work, { recursive: true });
  const extraOptions = profile.overlay?.options;
  const options = await overlayGetOptions(dir.installer, extraOptions, {
    workDir: work,
    ...(signal ? { signal } : {}),
  });
  return { dir, options, ...(extraOptions ? { extraOptions } : {}) };
}

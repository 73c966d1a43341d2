/**
 * The asset request for (schematic, version, asset path), with upstream's error text for a bad
 * path. Routes and the installer registry both start builds from it; it lives below both so the
 * registry (a service the routes receive) never imports a route module.
 */
import { BootforgeError } from "../../errors/index.js";
import { ASSET_PATH_ERROR_PREFIX, parseAssetPath, type Profile } from "../../profile/index.js";
import type { ServedVersion } from "../../release/versions.js";
import type { StoredSchematic } from "../schematic-service.js";
import type { AssetRequest } from "./asset-builder.js";

/** Parses an asset path as upstream (`error parsing profile from path: …` on failure). */
export function parsePath(path: string): Profile {
  try {
    return parseAssetPath(path);
  } catch (e) {
    if (e instanceof BootforgeError)
      throw new BootforgeError(e.kind, `${ASSET_PATH_ERROR_PREFIX}${e.message}`);
    throw e;
  }
}

/** The asset request for a schematic, version and asset path. */
export function assetRequest(
  stored: StoredSchematic,
  version: ServedVersion,
  path: string | Profile,
): AssetRequest {
  const profile = typeof path === "string" ? parsePath(path) : path;
  return {
    schematicId: stored.id,
    canonical: stored.canonical,
    schematic: stored.schematic,
    version,
    profile,
  };
}

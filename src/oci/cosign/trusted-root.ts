/**
 * The Sigstore trust root keyless verification checks against: Fulcio certificate authorities,
 * Rekor transparency log keys and CT log keys, as a `trusted_root.json` (Sigstore's protobuf
 * JSON). By default the public-good root shipped inside `@sigstore/tuf` (the seed its TUF client
 * starts from), read from disk: nothing is fetched at run time, so verification works offline
 * and air-gapped. A newer or a private root is a file given in the configuration.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { TrustedRoot } from "@sigstore/protobuf-specs";
import { toTrustMaterial, type TrustMaterial } from "@sigstore/verify";
import { BootforgeError } from "../../errors/index.js";

/** The public-good TUF repository whose seeded targets `@sigstore/tuf` ships. */
export const PUBLIC_GOOD_TUF = "https://tuf-repo-cdn.sigstore.dev";

/** A loaded trust root and where it came from (for messages). */
export interface TrustRoot {
  material: TrustMaterial;
  source: string;
}

const MEDIA_TYPE = /^application\/vnd\.dev\.sigstore\.trustedroot(\.v\d+\.\d+)?\+json/;

/** Parses `trusted_root.json` text; a malformed root is an invalid-input error naming `source`. */
export function parseTrustedRoot(text: string, source: string): TrustRoot {
  const bad = (why: string) => new BootforgeError("invalid-input", `trusted root ${source}: ${why}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw bad("not JSON");
  }
  const mediaType = (json as { mediaType?: unknown } | null)?.mediaType;
  if (typeof mediaType !== "string" || !MEDIA_TYPE.test(mediaType))
    throw bad(`mediaType ${JSON.stringify(mediaType)} is not a Sigstore trusted root`);
  let material: TrustMaterial;
  try {
    material = toTrustMaterial(TrustedRoot.fromJSON(json));
  } catch (e) {
    throw bad((e as Error).message);
  }
  if (material.certificateAuthorities.length === 0) throw bad("no certificate authorities");
  if (material.tlogs.length === 0) throw bad("no transparency logs");
  return { material, source };
}

/** Reads a `trusted_root.json` file. */
export async function loadTrustedRootFile(path: string): Promise<TrustRoot> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new BootforgeError("invalid-input", `trusted root ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return parseTrustedRoot(text, path);
}

/** The public-good `trusted_root.json` text as shipped in `@sigstore/tuf`'s seeds. */
export async function publicGoodTrustedRootJson(): Promise<string> {
  const seeds = createRequire(import.meta.url).resolve("@sigstore/tuf/seeds.json");
  const doc = JSON.parse(await readFile(seeds, "utf8")) as Record<
    string,
    { targets?: Record<string, string> } | undefined
  >;
  const target = doc[PUBLIC_GOOD_TUF]?.targets?.["trusted_root.json"];
  if (target === undefined)
    throw new BootforgeError(
      "environment",
      `@sigstore/tuf ships no trusted_root.json for ${PUBLIC_GOOD_TUF}`,
    );
  return Buffer.from(target, "base64").toString("utf8");
}

/** The public-good Sigstore root shipped with the library (no network). */
export async function publicGoodTrustedRoot(): Promise<TrustRoot> {
  return parseTrustedRoot(await publicGoodTrustedRootJson(), "public-good Sigstore (shipped)");
}

/** The configured root file, or the shipped public-good one. */
export function loadTrustedRoot(path?: string): Promise<TrustRoot> {
  return path === undefined || path === "" ? publicGoodTrustedRoot() : loadTrustedRootFile(path);
}

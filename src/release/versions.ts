/**
 * Which Talos versions a release source serves, with upstream's rules: tolerant parsing of the
 * imager image tags, a minimum version, hidden broken versions, and prereleases only for the
 * newest minor line (`vX.Y.Z-alpha|beta|rc.N`).
 */
import { compareVersions, parseTalosVersion, type TalosVersion } from "../profile/version.js";

export interface VersionPolicy {
  minTalosVersion: string;
  brokenTalosVersions: readonly string[];
}

/** A served version: canonical text (`v1.11.0`) plus its parsed form. */
export interface ServedVersion {
  readonly tag: string;
  readonly version: TalosVersion;
}

const PRERELEASE = /^(alpha|beta|rc)\.\d+$/;

/** Canonical `vX.Y.Z[-pre]` spelling of a parsed version. */
export function versionTag(v: TalosVersion): string {
  return `v${v.major}.${v.minor}.${v.patch}${v.prerelease === "" ? "" : `-${v.prerelease}`}`;
}

function sameVersion(a: TalosVersion, b: TalosVersion): boolean {
  return compareVersions(a, b) === 0;
}

/** Filters and sorts imager tags into the served version list (ascending). */
export function servedVersions(tags: readonly string[], policy: VersionPolicy): ServedVersion[] {
  const parsed = tags.map((t) => parseTalosVersion(t)).filter((v): v is TalosVersion => v !== undefined);
  if (parsed.length === 0) return [];
  const max = parsed.reduce((a, b) => (compareVersions(a, b) >= 0 ? a : b));
  const min = parseTalosVersion(policy.minTalosVersion);
  const broken = policy.brokenTalosVersions.map((b) => parseTalosVersion(b)).filter((v) => v !== undefined);
  const seen = new Map<string, ServedVersion>();
  for (const v of parsed) {
    if (min !== undefined && compareVersions(v, min) < 0) continue;
    if (broken.some((b) => sameVersion(b, v))) continue;
    if (
      v.prerelease !== "" &&
      !(v.major === max.major && v.minor === max.minor && PRERELEASE.test(v.prerelease))
    )
      continue;
    const tag = versionTag(v);
    seen.set(tag, { tag, version: v });
  }
  return [...seen.values()].sort((a, b) => compareVersions(a.version, b.version));
}

/** The configured broken versions that exist among the tags (what `/versions?broken=true` lists). */
export function brokenVersions(tags: readonly string[], policy: VersionPolicy): ServedVersion[] {
  const all = servedVersions(tags, { ...policy, brokenTalosVersions: [] });
  const broken = policy.brokenTalosVersions.map((b) => parseTalosVersion(b)).filter((v) => v !== undefined);
  return all.filter((s) => broken.some((b) => sameVersion(b, s.version)));
}

/** The newest release without a prerelease (`latest` in registry references). */
export function latestStable(versions: readonly ServedVersion[]): ServedVersion | undefined {
  return [...versions].reverse().find((v) => v.version.prerelease === "");
}

/** Finds a served version from user text (`1.11.0` or `v1.11.0`); strict: `v1.11` is not `v1.11.0`. */
export function findServed(versions: readonly ServedVersion[], text: string): ServedVersion | undefined {
  const withV = text.startsWith("v") ? text : `v${text}`;
  return versions.find((s) => s.tag === withV);
}

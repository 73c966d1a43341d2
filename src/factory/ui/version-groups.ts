/** The version step's list: served versions grouped by minor line, newest first, stable default. */
import { compareVersions, parseTalosVersion, type TalosVersion } from "../../profile/version.js";

/** One `<optgroup>`: `1.12` for releases, `1.13-pre` for prereleases of a line. */
export interface VersionGroup {
  readonly label: string;
  /** Versions without `v`, newest first. */
  readonly versions: string[];
}

function plain(v: TalosVersion): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease === "" ? "" : `-${v.prerelease}`}`;
}

/** Groups version tags (`v1.12.0`…) for the select, keeping only those ≥ `min` when given. */
export function groupVersions(tags: readonly string[], min?: string): VersionGroup[] {
  const floor = min === undefined ? undefined : parseTalosVersion(min);
  const parsed = tags
    .map((t) => parseTalosVersion(t))
    .filter((v): v is TalosVersion => v !== undefined)
    .filter((v) => floor === undefined || compareVersions(v, floor) >= 0)
    .sort((a, b) => compareVersions(b, a));
  const groups: { label: string; versions: string[] }[] = [];
  for (const v of parsed) {
    const label = `${v.major}.${v.minor}${v.prerelease === "" ? "" : "-pre"}`;
    let g = groups.find((x) => x.label === label);
    if (g === undefined) groups.push((g = { label, versions: [] }));
    g.versions.push(plain(v));
  }
  return groups;
}

/** The newest stable version (without `v`), or the newest of all when there is no release. */
export function defaultVersion(tags: readonly string[], min?: string): string | undefined {
  const all = groupVersions(tags, min).flatMap((g) => g.versions);
  return all.find((v) => !v.includes("-")) ?? all[0];
}

/**
 * Talos version parsing as upstream's `semver.ParseTolerant` does it: an optional `v`, missing
 * minor/patch filled with zero, the prerelease and build metadata kept but ignored by comparisons
 * that quirks make.
 */

export interface TalosVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** Prerelease identifiers after `-`, e.g. `alpha.3`; empty for releases. */
  readonly prerelease: string;
}

const TOLERANT =
  /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** Parses a Talos version leniently (`v1.10`, `1.10.0-alpha.1`); undefined when it is not a version. */
export function parseTalosVersion(text: string): TalosVersion | undefined {
  const m = TOLERANT.exec(text.trim());
  if (!m) return undefined;
  const num = (s: string | undefined) => (s === undefined ? 0 : Number(s));
  const major = num(m[1]);
  const minor = num(m[2]);
  const patch = num(m[3]);
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch, prerelease: m[4] ?? "" };
}

/** Compares major.minor.patch only (prereleases are ignored, as upstream quirks do). */
export function compareCore(a: TalosVersion, b: TalosVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** True when `v`'s core version is at least `major.minor.patch`. */
export function atLeast(v: TalosVersion, major: number, minor: number, patch = 0): boolean {
  return compareCore(v, { major, minor, patch, prerelease: "" }) >= 0;
}

/** Full semver precedence (prereleases sort before their release), for ordering version lists. */
export function compareVersions(a: TalosVersion, b: TalosVersion): number {
  const core = compareCore(a, b);
  if (core !== 0) return core;
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === "") return 1;
  if (b.prerelease === "") return -1;
  const pa = a.prerelease.split(".");
  const pb = b.prerelease.split(".");
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      const d = Number(x) - Number(y);
      if (d !== 0) return d;
    } else if (nx !== ny) {
      return nx ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/**
 * Version constraints of extension manifests, in the syntax upstream accepts (blang/semver
 * ranges): `>=1.0.0 <2.0.0` (AND by spaces), `||` for OR, operators `= == != > >= < <=`, an
 * operator may be separated from its version by spaces, and `v` before digits is ignored.
 */
import { invalidInput } from "../../errors/index.js";
import { compareVersions, parseTalosVersion, type TalosVersion } from "../../profile/version.js";

type Op = "=" | "!=" | ">" | ">=" | "<" | "<=";
interface Comparator {
  op: Op;
  version: TalosVersion;
}

const STRICT = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;
const COMPARATOR = /^(==|!=|>=|<=|=|>|<)?(.*)$/;

/** A parsed constraint; `matches` tests a version. */
export interface VersionRange {
  readonly text: string;
  matches(v: TalosVersion): boolean;
}

function parseComparator(part: string, text: string): Comparator {
  const m = COMPARATOR.exec(part)!;
  const op = (m[1] === "==" ? "=" : (m[1] ?? "=")) as Op;
  const vtext = m[2]!;
  const v = STRICT.test(vtext) ? parseTalosVersion(vtext) : undefined;
  if (v === undefined)
    throw invalidInput(
      `invalid version constraint ${JSON.stringify(text)}: bad version ${JSON.stringify(vtext)}`,
    );
  return { op, version: v };
}

function test(c: Comparator, v: TalosVersion): boolean {
  const d = compareVersions(v, c.version);
  switch (c.op) {
    case "=":
      return d === 0;
    case "!=":
      return d !== 0;
    case ">":
      return d > 0;
    case ">=":
      return d >= 0;
    case "<":
      return d < 0;
    case "<=":
      return d <= 0;
  }
}

/** Parses a constraint; throws an invalid-input error naming it when malformed. */
export function parseVersionRange(text: string): VersionRange {
  // Upstream strips a `v` that directly precedes a digit before handing the text to blang.
  const cleaned = text.replace(/v(?=\d)/g, "");
  const alternatives = cleaned.split("||").map((alt) => {
    const tokens = alt
      .trim()
      .split(/\s+/)
      .filter((t) => t !== "");
    const parts: string[] = [];
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      // An operator on its own binds to the following version (`>= 1.0.0`).
      if (/^(==|!=|>=|<=|=|>|<)$/.test(t) && i + 1 < tokens.length) {
        parts.push(t + tokens[++i]!);
      } else {
        parts.push(t);
      }
    }
    if (parts.length === 0)
      throw invalidInput(`invalid version constraint ${JSON.stringify(text)}: empty alternative`);
    return parts.map((p) => parseComparator(p, text));
  });
  return {
    text,
    matches: (v) => alternatives.some((all) => all.every((c) => test(c, v))),
  };
}

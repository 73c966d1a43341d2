/**
 * The dependency closure of a set of Debian packages for one architecture, read from the
 * `Packages` indices apt downloaded (no dpkg database, no foreign-architecture setup): every
 * `Pre-Depends` and `Depends` is followed, an alternative group is satisfied by the first
 * alternative a real package or a `Provides` can meet, and a package already chosen is preferred.
 * `Recommends` and `Suggests` are not followed (a container image installs none).
 */
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { BootforgeError } from "../../src/errors/index.js";

/** One package version of the index. */
export interface IndexPackage {
  name: string;
  version: string;
  /** `all` or the architecture asked for. */
  arch: string;
  sha256: string;
  depends: string;
  provides: string;
}

/** Compares two Debian versions as dpkg does (epoch, upstream, revision; `~` sorts first). */
export function compareVersions(a: string, b: string): number {
  const split = (v: string): [number, string, string] => {
    const colon = v.indexOf(":");
    const epoch = colon >= 0 ? Number(v.slice(0, colon)) : 0;
    const rest = colon >= 0 ? v.slice(colon + 1) : v;
    const dash = rest.lastIndexOf("-");
    return dash >= 0 ? [epoch, rest.slice(0, dash), rest.slice(dash + 1)] : [epoch, rest, "0"];
  };
  const order = (c: string | undefined): number => {
    if (c === undefined) return 0;
    if (c === "~") return -1;
    if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
    return c.charCodeAt(0) + 256;
  };
  const part = (x: string, y: string): number => {
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      // Non-digit runs compare character by character in dpkg's order.
      while ((i < x.length && !/\d/.test(x[i]!)) || (j < y.length && !/\d/.test(y[j]!))) {
        const cx = i < x.length && !/\d/.test(x[i]!) ? x[i] : undefined;
        const cy = j < y.length && !/\d/.test(y[j]!) ? y[j] : undefined;
        const d = order(cx) - order(cy);
        if (d !== 0) return d;
        if (cx !== undefined) i++;
        if (cy !== undefined) j++;
      }
      let nx = "";
      let ny = "";
      while (i < x.length && /\d/.test(x[i]!)) nx += x[i++];
      while (j < y.length && /\d/.test(y[j]!)) ny += y[j++];
      const d = Number(nx || "0") - Number(ny || "0");
      if (d !== 0) return d;
    }
    return 0;
  };
  const [ea, ua, ra] = split(a);
  const [eb, ub, rb] = split(b);
  return ea !== eb ? ea - eb : part(ua, ub) || part(ra, rb);
}

function satisfies(version: string, op: string | undefined, wanted: string | undefined): boolean {
  if (op === undefined || wanted === undefined) return true;
  const c = compareVersions(version, wanted);
  switch (op) {
    case "<<":
      return c < 0;
    case "<=":
      return c <= 0;
    case "=":
      return c === 0;
    case ">=":
      return c >= 0;
    case ">>":
      return c > 0;
    default:
      throw new BootforgeError("invalid-input", `unknown version relation ${op}`);
  }
}

/** One alternative of a dependency: `name[:qualifier] [(op version)]`. */
interface Alternative {
  name: string;
  op?: string;
  version?: string;
}

function parseRelations(field: string): Alternative[][] {
  return field
    .split(",")
    .map((g) => g.trim())
    .filter((g) => g !== "")
    .map((group) =>
      group.split("|").map((alt) => {
        const m =
          /^\s*([a-z0-9][a-z0-9+.-]*)(?::[a-z0-9-]+)?\s*(?:\(\s*(<<|<=|=|>=|>>)\s*([^)\s]+)\s*\))?/.exec(alt);
        if (m?.[1] === undefined)
          throw new BootforgeError("invalid-input", `cannot parse the dependency "${alt.trim()}"`);
        return { name: m[1], ...(m[2] !== undefined ? { op: m[2], version: m[3] } : {}) };
      }),
    );
}

/** The newest version of every package for `arch` (and `all`) in a set of `Packages` indices. */
export class DebianIndex {
  readonly #packages = new Map<string, IndexPackage>();
  /** Virtual or real name → packages providing it, with the provided version if any. */
  readonly #providers = new Map<string, { pkg: IndexPackage; version?: string }[]>();

  constructor(packages: Iterable<IndexPackage>) {
    for (const p of packages) {
      const had = this.#packages.get(p.name);
      if (had === undefined || compareVersions(p.version, had.version) > 0) this.#packages.set(p.name, p);
    }
    for (const p of this.#packages.values()) {
      for (const [alt] of parseRelations(p.provides)) {
        if (alt === undefined) continue;
        const list = this.#providers.get(alt.name) ?? [];
        list.push({ pkg: p, ...(alt.version !== undefined ? { version: alt.version } : {}) });
        this.#providers.set(alt.name, list);
      }
    }
  }

  /**
   * The index files of `arch` in an apt lists directory, parsed. apt keeps them compressed or not
   * as the host's configuration says; `apt-helper cat-file` reads any of its formats.
   */
  static async load(listsDir: string, arch: string): Promise<DebianIndex> {
    const names = (await readdir(listsDir))
      .filter((n) => /_binary-(?:[a-z0-9]+)_Packages(?:\.[a-z0-9]+)?$/.test(n))
      .filter((n) => n.includes(`_binary-${arch}_`) || n.includes("_binary-all_"))
      .sort();
    if (names.length === 0)
      throw new BootforgeError(
        "dependency",
        `no Packages index for ${arch} in ${listsDir} (did apt-get update run?)`,
      );
    const all: IndexPackage[] = [];
    for (const n of names) {
      const { stdout } = await promisify(execFile)(
        "/usr/lib/apt/apt-helper",
        ["cat-file", join(listsDir, n)],
        {
          maxBuffer: 1024 ** 3,
          encoding: "utf8",
        },
      );
      all.push(...parsePackages(stdout, arch));
    }
    return new DebianIndex(all);
  }

  get(name: string): IndexPackage | undefined {
    return this.#packages.get(name);
  }

  /** The package meeting one alternative: the real one, else a provider (preferring `chosen`). */
  #meet(alt: Alternative, chosen: ReadonlySet<string>): IndexPackage | undefined {
    const real = this.#packages.get(alt.name);
    if (real !== undefined && satisfies(real.version, alt.op, alt.version)) return real;
    const providers = (this.#providers.get(alt.name) ?? []).filter(
      (p) => alt.op === undefined || (p.version !== undefined && satisfies(p.version, alt.op, alt.version)),
    );
    providers.sort((a, b) => (a.pkg.name < b.pkg.name ? -1 : a.pkg.name > b.pkg.name ? 1 : 0));
    return providers.find((p) => chosen.has(p.pkg.name))?.pkg ?? providers[0]?.pkg;
  }

  /** `roots` and everything they depend on, sorted by name. */
  closure(roots: readonly string[]): IndexPackage[] {
    const chosen = new Map<string, IndexPackage>();
    const queue: IndexPackage[] = [];
    const add = (p: IndexPackage): void => {
      if (chosen.has(p.name)) return;
      chosen.set(p.name, p);
      queue.push(p);
    };
    for (const r of roots) {
      const p = this.#packages.get(r);
      if (p === undefined) throw new BootforgeError("dependency", `no Debian package ${r} in the index`);
      add(p);
    }
    while (queue.length > 0) {
      const p = queue.shift()!;
      for (const group of parseRelations(p.depends)) {
        const names = new Set(chosen.keys());
        // A group some chosen package already meets adds nothing.
        const already = group
          .map((a) => this.#meet(a, names))
          .find((m) => m !== undefined && chosen.has(m.name));
        if (already !== undefined) continue;
        const pick = group.map((a) => this.#meet(a, names)).find((m) => m !== undefined);
        if (pick === undefined)
          throw new BootforgeError(
            "dependency",
            `${p.name} ${p.version}: nothing in the index satisfies "${group.map(formatAlt).join(" | ")}"`,
          );
        add(pick);
      }
    }
    return [...chosen.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

const formatAlt = (a: Alternative): string =>
  a.op !== undefined ? `${a.name} (${a.op} ${a.version})` : a.name;

/** Parses a `Packages` file, keeping the stanzas of `arch` and `all`. */
export function parsePackages(text: string, arch: string): IndexPackage[] {
  const out: IndexPackage[] = [];
  for (const block of text.split(/\n\n+/)) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of block.split("\n")) {
      if (/^\s/.test(line) && last !== "") {
        fields.set(last, `${fields.get(last) ?? ""} ${line.trim()}`);
        continue;
      }
      const i = line.indexOf(":");
      if (i <= 0) continue;
      last = line.slice(0, i).toLowerCase();
      fields.set(last, line.slice(i + 1).trim());
    }
    const name = fields.get("package");
    const version = fields.get("version");
    const a = fields.get("architecture");
    const sha256 = fields.get("sha256");
    if (name === undefined || version === undefined || sha256 === undefined) continue;
    if (a !== arch && a !== "all") continue;
    const depends = [fields.get("pre-depends"), fields.get("depends")]
      .filter((x) => x !== undefined)
      .join(", ");
    out.push({ name, version, arch: a, sha256, depends, provides: fields.get("provides") ?? "" });
  }
  return out;
}

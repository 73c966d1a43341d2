/**
 * Configuration sources as upstream image-factory takes them (`--config` values: `FILE`,
 * `file=FILE`, `env=PREFIX`, several comma-separated or repeated; later ones override earlier
 * ones; `env=IF_` always comes first), read into Bootforge-shaped layers. Keys are Bootforge's
 * own or upstream's (translated through `upstream-keys.ts`); an upstream key Bootforge does not
 * implement is one warning; a setting given under two names is an error naming both.
 */
import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { parse as parseYaml } from "yaml";
import { invalidInput } from "../errors/index.js";
import { CONFIG_KEYS, configFromEnv, envValue, setPath } from "./config.js";
import { UPSTREAM_KEYS, type UpstreamKey, type ValueType } from "./upstream-keys.js";

type RawConfig = Record<string, unknown>;

/** One configuration source. */
export type ConfigSource = { kind: "file"; path: string } | { kind: "env"; prefix: string };

/** Upstream's default source, applied before every `--config` source. */
export const DEFAULT_ENV_PREFIX = "IF_";

/** Parses `--config` values (each maybe comma-separated) into sources, in order. */
export function parseConfigSources(values: readonly string[]): ConfigSource[] {
  const out: ConfigSource[] = [];
  for (const value of values) {
    if (value.trim() === "") throw invalidInput("--config: configs value must not be empty");
    for (const item of value.split(",")) {
      const eq = item.indexOf("=");
      const [kind, rest] = eq < 0 ? ["file", item] : [item.slice(0, eq), item.slice(eq + 1)];
      if (kind === "env") out.push({ kind: "env", prefix: rest });
      else if (kind === "file") {
        if (rest === "") throw invalidInput("--config: file= needs a path");
        out.push({ kind: "file", path: rest });
      } else throw invalidInput(`--config: unsupported config provider: ${kind}`);
    }
  }
  return out;
}

/** What loading the sources gave. */
export interface LoadedConfig {
  /** Settings implied by others unless given explicitly (the lowest layer). */
  implied: RawConfig;
  /** Bootforge-shaped layers, lowest precedence first. */
  layers: RawConfig[];
  /** One line per upstream key Bootforge does not implement: `<key>: <reason>`. */
  warnings: string[];
}

interface Context {
  /** Bootforge key -> the names it was given under (spelled as documented). */
  names: Map<string, Set<string>>;
  implied: RawConfig;
  warnings: Map<string, string>;
}

const bootforgeKeys = new Set(CONFIG_KEYS);
const bootforgeLower = new Map(CONFIG_KEYS.map((k) => [k.toLowerCase(), k]));
const upstreamLower = new Map([...UPSTREAM_KEYS.keys()].map((k) => [k.toLowerCase(), k]));
const prefixesOf = (keys: Iterable<string>): Set<string> => {
  const out = new Set<string>();
  for (const k of keys) {
    const parts = k.split(".");
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join(".").toLowerCase());
  }
  return out;
};
const branchesLower = prefixesOf([...CONFIG_KEYS, ...UPSTREAM_KEYS.keys()]);

/** strconv.ParseBool's spellings, which koanf's weak decoding accepts. */
const BOOLS: Record<string, boolean> = {
  "1": true, t: true, T: true, TRUE: true, true: true, True: true,
  "0": false, f: false, F: false, FALSE: false, false: false, False: false,
}; // prettier-ignore

/** Converts a value as upstream's weakly typed decoding does (strings from the environment). */
function convert(value: unknown, type: ValueType, name: string): unknown {
  const bad = () =>
    invalidInput(
      `configuration ${name}: expected ${type === "strings" ? "a list of strings" : `a ${type}`}, got ${JSON.stringify(value)}`,
    );
  switch (type) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean") return String(value);
      throw bad();
    case "bool":
      if (typeof value === "boolean") return value;
      if (typeof value === "string" && value in BOOLS) return BOOLS[value];
      if (typeof value === "number") return value !== 0;
      throw bad();
    case "int":
      if (typeof value === "number" && Number.isInteger(value)) return value;
      if (typeof value === "string" && /^[+-]?\d+$/.test(value.trim())) return Number(value.trim());
      throw bad();
    case "strings":
      if (Array.isArray(value)) return value.map((v) => (typeof v === "string" ? v : String(v)));
      if (typeof value === "string") return value === "" ? [] : value.split(",");
      throw bad();
  }
}

function give(ctx: Context, layer: RawConfig, key: string, name: string, value: unknown): void {
  let names = ctx.names.get(key);
  if (names === undefined) ctx.names.set(key, (names = new Set()));
  names.add(name);
  if (names.size > 1) {
    const [a, b] = [...names];
    throw invalidInput(`configuration ${a} and ${b} are the same setting (${key}): give only one of them`);
  }
  setPath(layer, key.split("."), value);
}

function applyUpstream(
  ctx: Context,
  layer: RawConfig,
  name: string,
  entry: UpstreamKey,
  value: unknown,
): void {
  if ("to" in entry) {
    give(ctx, layer, entry.to, name, convert(value, entry.type, name));
    if (entry.implies) setPath(ctx.implied, entry.implies.key.split("."), entry.implies.value);
    return;
  }
  const scalar = typeof value === "string" || typeof value === "boolean" ? String(value) : undefined;
  if (entry.accepts !== undefined && scalar?.toLowerCase() === String(entry.accepts).toLowerCase()) return;
  ctx.warnings.set(name, entry.unsupported);
}

/** A value read from a file: Bootforge's own keys as they are, upstream's translated. */
function translateTree(ctx: Context, layer: RawConfig, tree: RawConfig, prefix: string, where: string): void {
  for (const [k, v] of Object.entries(tree)) {
    const key = prefix === "" ? k : `${prefix}.${k}`;
    // A key with no value is upstream's zero value: not given.
    if (v === null || v === undefined) continue;
    const upstream = upstreamLower.get(key.toLowerCase());
    const entry = upstream === undefined ? undefined : UPSTREAM_KEYS.get(upstream)!;
    // Bootforge's own key wins over an upstream entry that does not map to it.
    if (upstream !== undefined && entry !== undefined && ("to" in entry || !bootforgeKeys.has(key))) {
      applyUpstream(ctx, layer, upstream, entry, v);
    } else if (bootforgeKeys.has(key)) {
      give(ctx, layer, key, key, v);
    } else if (typeof v === "object" && !Array.isArray(v) && branchesLower.has(key.toLowerCase())) {
      translateTree(ctx, layer, v as RawConfig, key, where);
    } else {
      throw invalidInput(`unknown configuration key ${key} (${where})`);
    }
  }
}

/** `KEY=value` pairs from the environment or a dotenv file: case-insensitive dotted keys. */
function translatePairs(
  ctx: Context,
  layer: RawConfig,
  pairs: [string, string][],
  keyOf: (name: string) => string | undefined,
  strict: boolean,
): void {
  for (const [name, raw] of pairs) {
    const key = keyOf(name);
    if (key === undefined) continue;
    const t = raw.trim();
    let value: unknown = raw;
    if (t.startsWith("[") || t.startsWith("{")) {
      try {
        value = JSON.parse(t) as unknown;
      } catch {
        value = raw;
      }
    }
    const upstream = upstreamLower.get(key);
    const entry = upstream === undefined ? undefined : UPSTREAM_KEYS.get(upstream)!;
    const own = bootforgeLower.get(key);
    if (upstream !== undefined && entry !== undefined && ("to" in entry || own === undefined))
      applyUpstream(ctx, layer, upstream, entry, value);
    else if (own !== undefined) give(ctx, layer, own, own, envValue(raw));
    else if (strict) throw invalidInput(`unknown configuration variable ${name}`);
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw invalidInput(`cannot read configuration file ${path}: ${(e as Error).message}`);
  }
}

/** Parses a dotenv file's `KEY=value` lines (comments, `export`, quotes). */
function dotenvPairs(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([^=#\s]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    let v = m[2]!;
    if (/^(["']).*\1$/.test(v)) v = v.slice(1, -1);
    out.push([m[1]!, v]);
  }
  return out;
}

async function fileLayer(ctx: Context, path: string): Promise<RawConfig> {
  const layer: RawConfig = {};
  const text = await readText(path);
  if (extname(path).toLowerCase() === ".env") {
    translatePairs(ctx, layer, dotenvPairs(text), (k) => k.toLowerCase(), true);
    return layer;
  }
  let data: unknown;
  try {
    data = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (e) {
    throw invalidInput(`configuration file ${path}: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) return layer;
  if (typeof data !== "object" || Array.isArray(data))
    throw invalidInput(`configuration file ${path}: expected a mapping`);
  translateTree(ctx, layer, data as RawConfig, "", `in ${path}`);
  return layer;
}

function envLayer(ctx: Context, env: NodeJS.ProcessEnv, prefix: string): RawConfig {
  const layer: RawConfig = {};
  const pairs = Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined && e[0].startsWith(prefix))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // With no prefix every variable of the process is a candidate: only known keys are taken.
  translatePairs(
    ctx,
    layer,
    pairs,
    (n) => n.slice(prefix.length).toLowerCase().replaceAll("_", "."),
    prefix !== "",
  );
  return layer;
}

/**
 * Reads `IF_*` (always first), then `sources` in order, then `BOOTFORGE_*` variables, into
 * Bootforge-shaped layers.
 */
export async function loadConfigSources(
  sources: readonly ConfigSource[],
  env: NodeJS.ProcessEnv,
): Promise<LoadedConfig> {
  const ctx: Context = { names: new Map(), implied: {}, warnings: new Map() };
  const layers: RawConfig[] = [envLayer(ctx, env, DEFAULT_ENV_PREFIX)];
  for (const s of sources)
    layers.push(s.kind === "file" ? await fileLayer(ctx, s.path) : envLayer(ctx, env, s.prefix));
  const own: RawConfig = {};
  translateTree(ctx, own, configFromEnv(env), "", "from BOOTFORGE_ variables");
  layers.push(own);
  return {
    implied: ctx.implied,
    layers,
    warnings: [...ctx.warnings].map(([k, why]) => `${k}: ${why}`),
  };
}

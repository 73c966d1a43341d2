/**
 * Seeded generators for property tests and fuzzing: random schematics, alternative spellings of
 * the same schematic (JSON, YAML with other key orders and indentation), and random or mutated
 * inputs for the decoder. Deterministic for a given seed.
 */

import {
  GoFloat,
  GoMap,
  GoTime,
  formatGoFloat,
  marshal,
  type GoMapKey,
  type YamlValue,
} from "../../yaml/emit.js";
import { parseTimestamp } from "../../yaml/resolve.js";
import { BOOTLOADER_KINDS, createSchematic, type Schematic } from "../model.js";
import { prng } from "../../../test/helpers/prng.js";

export { prng };

export class Gen {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = prng(seed);
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)]!;
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** Strings that exercise quoting, typing and block rules. */
export const TRICKY_STRINGS: readonly string[] = [
  "net.ifnames=0",
  "console=ttyS0,115200n8",
  "-console",
  "yes",
  "No",
  "on",
  "y",
  "true",
  "False",
  "null",
  "~",
  "",
  " ",
  "0",
  "012",
  "0x1f",
  "0o17",
  "0b101",
  "1_000",
  "+1",
  "-0",
  "1.5",
  "1e3",
  ".inf",
  ".5",
  "12:30",
  "2024-01-01",
  "2001-12-14 21:59:43.10",
  "<<",
  "=",
  "?x",
  "? x",
  "- x",
  "-",
  "---",
  "...",
  ":x",
  "a: b",
  "a:b",
  "x #y",
  "#x",
  "x#y",
  "'q'",
  '"dq"',
  "a\\b",
  "@x",
  "`x",
  "!x",
  "&x",
  "*x",
  "%x",
  "|x",
  ">x",
  "{x",
  "[x]",
  ",x",
  " lead",
  "trail ",
  "tab\tval",
  "foo\nbar",
  "foo\n",
  "foo\n\n",
  "\n",
  "\nlead",
  " lead\nx",
  "a \nb\n",
  "line1\n  indented\nline3\n",
  "x\r\ny",
  "emoji=😀",
  "Ünïcödé=ü",
  "ключ: значение\n",
  "a\u00a0b",
  "\u0001ctl",
  "\u007f",
  "\u0085nel",
  "\ufeffbom",
  '{"externalIPs":["1.2.3.4"]}',
  "apiVersion: v1alpha1\nkind: HostnameConfig\nhostname: worker-33",
  "word ".repeat(30).trim(),
  "k".repeat(130),
];

const ALPHABET = "abcxyz019 -_.:=,/#'\"\\@!&*?|>{}[]%`~\t\n\r\u00e9\u00a0😀";

export function randomString(g: Gen): string {
  if (g.bool(0.5)) return g.pick(TRICKY_STRINGS);
  const n = g.int(0, 12);
  let s = "";
  for (let i = 0; i < n; i++) s += g.pick(Array.from(ALPHABET));
  // go-yaml loses the leading spaces of a first non-empty line that follows leading line breaks
  // in a literal block ("\n x" reads back as "\nx"); keep generated values out of that corner.
  return s.replace(/^(\n+) +/, "$1");
}

/**
 * Canonical texts that go-yaml itself cannot read back faithfully: block scalars with an
 * indentation indicator inside sequences, and literal blocks starting with empty lines.
 */
export const GO_YAML_UNREADABLE = /\|[1-9][-+]?\n|\|[-+]?\n\n/;

export interface ArbitraryOptions {
  /** Only values that JSON can spell without changing their Go type (no timestamps, inf, nan). */
  jsonSafe?: boolean;
}

function randomFloat(g: Gen, jsonSafe: boolean): GoFloat {
  const pool = [1.5, -2.25, 1e6, 1000000.5, 0.0001, 1e-7, 123456, 2, 1e21, -0, 3.14159];
  const special = [Infinity, -Infinity, NaN];
  if (!jsonSafe && g.bool(0.15)) return new GoFloat(g.pick(special));
  return new GoFloat(g.bool(0.5) ? g.pick(pool) : (g.random() - 0.5) * 10 ** g.int(-5, 25));
}

function randomTime(g: Gen): GoTime {
  const text = `20${g.int(10, 30)}-${g.int(1, 12)}-${g.int(1, 28)}${g.bool() ? "" : `T${g.int(0, 23)}:${g.int(0, 59)}:${g.int(0, 59)}${g.bool() ? "" : `.${g.int(0, 999999)}`}${g.bool() ? "Z" : "+05:30"}`}`;
  return new GoTime(parseTimestamp(text)!);
}

function randomAny(g: Gen, depth: number, o: ArbitraryOptions): YamlValue {
  const kinds = depth > 3 ? 6 : 8;
  switch (g.int(0, kinds)) {
    case 0:
    case 1:
      return randomString(g);
    case 2:
      return g.bool(0.8) ? g.int(-1000, 100000) : 10n ** BigInt(g.int(16, 19));
    case 3:
      return randomFloat(g, o.jsonSafe ?? false);
    case 4:
      return g.bool();
    case 5:
      return null;
    case 6:
      return o.jsonSafe ? randomString(g) : randomTime(g);
    case 7:
      return Array.from({ length: g.int(0, 3) }, () => randomAny(g, depth + 1, o));
    default:
      return randomOptions(g, depth + 1, o);
  }
}

function randomOptions(g: Gen, depth: number, o: ArbitraryOptions): GoMap {
  const entries = new Map<string, YamlValue>();
  for (let i = g.int(0, 4); i > 0; i--) entries.set(randomString(g), randomAny(g, depth, o));
  return new GoMap(entries);
}

/** A random schematic (owner always empty: it is rejected). */
export function arbitrarySchematic(g: Gen, o: ArbitraryOptions = {}): Schematic {
  const list = (max: number) => Array.from({ length: g.int(0, max) }, () => randomString(g));
  const withOverlay = g.bool(0.4);
  return createSchematic({
    overlay: withOverlay
      ? {
          image: g.bool(0.8) ? "siderolabs/sbc-raspberrypi" : randomString(g),
          name: g.bool(0.8) ? "rpi_generic" : randomString(g),
          options: g.bool(0.5) ? randomOptions(g, 0, o) : null,
        }
      : {},
    customization: {
      embeddedMachineConfiguration: g.bool(0.2) ? randomString(g) : "",
      extraKernelArgs: g.bool(0.6) ? list(4) : [],
      meta: g.bool(0.3)
        ? Array.from({ length: g.int(1, 3) }, () => ({ key: g.int(0, 255), value: randomString(g) }))
        : [],
      systemExtensions: { officialExtensions: g.bool(0.6) ? list(4) : [] },
      bootloader: g.pick(BOOTLOADER_KINDS),
      secureboot: {
        enrollKeys: g.bool(0.2) ? g.pick(["off", "manual", "if-safe", "force", randomString(g)]) : "",
        includeWellKnownCertificates: g.bool(0.2),
      },
      diskImage: { sectorSize: g.bool(0.2) ? g.pick([512, 4096, g.int(1, 1 << 20)]) : 0 },
    },
  });
}

// --- alternative spellings -------------------------------------------------------------------

/** The schematic as plain data with every field, in random key order, zero fields kept or not. */
function spelledValue(g: Gen, s: Schematic): Record<string, YamlValue> {
  const c = s.customization;
  const fields: Array<[string, YamlValue | undefined]> = [
    ["overlay", { image: s.overlay.image, name: s.overlay.name, options: s.overlay.options ?? undefined }],
    [
      "customization",
      {
        embeddedMachineConfiguration: c.embeddedMachineConfiguration,
        extraKernelArgs: c.extraKernelArgs,
        meta: c.meta.map((m) => shuffled(g, { value: m.value, key: m.key })),
        systemExtensions: { officialExtensions: c.systemExtensions.officialExtensions },
        bootloader: g.bool(0.3) ? c.bootloader.toUpperCase() : c.bootloader,
        secureboot: shuffled(g, {
          enrollKeys: c.secureboot.enrollKeys,
          includeWellKnownCertificates: c.secureboot.includeWellKnownCertificates,
        }),
        diskImage: { sectorSize: c.diskImage.sectorSize },
      },
    ],
  ];
  const out: Record<string, YamlValue> = {};
  for (const [k, v] of g.shuffle(fields)) {
    if (v === undefined) continue;
    out[k] = isPlainObject(v) ? shuffled(g, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, YamlValue | undefined> {
  return (
    typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype
  );
}

/** Random key order; empty/zero fields dropped at random (both spellings mean the same). */
function shuffled(g: Gen, o: Record<string, YamlValue | undefined>): Record<string, YamlValue> {
  const out: Record<string, YamlValue> = {};
  for (const k of g.shuffle(Object.keys(o))) {
    const v = o[k];
    if (v === undefined) continue;
    const zero = v === "" || v === 0 || v === false || v === "none" || (Array.isArray(v) && v.length === 0);
    if (zero && k !== "key" && k !== "value" && g.bool(0.5)) continue;
    out[k] = isPlainObject(v) ? shuffled(g, v) : v;
  }
  return out;
}

/** JSON text of a Go value; floats keep a decimal point or exponent so they stay floats. */
function toJson(g: Gen, v: YamlValue, indent: string): string {
  if (v === null) return "null";
  if (typeof v === "string") {
    return JSON.stringify(v).replace(/[\u007f-\u009f\u2028\u2029\ufeff]/g, (ch) => {
      return `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`;
    });
  }
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (v instanceof GoFloat) {
    const t = formatGoFloat(v.value);
    return /[.e]/.test(t) ? t : `${t}.0`;
  }
  if (v instanceof GoTime) return JSON.stringify(v.text);
  const inner = indent + (g.bool() ? "  " : "");
  const sep = g.bool() ? ",\n" + inner : ", ";
  if (Array.isArray(v)) return `[${v.map((x) => toJson(g, x, inner)).join(sep)}]`;
  const entries: Array<readonly [GoMapKey, YamlValue | undefined]> =
    v instanceof GoMap ? g.shuffle(v.entries) : Object.entries(v);
  const parts = entries
    .filter(([, x]) => x !== undefined)
    .map(([k, x]) => `${toJson(g, k as YamlValue, inner)}: ${toJson(g, x!, inner)}`);
  return `{${parts.join(sep)}}`;
}

/** The same schematic spelled as JSON, with other key orders and optional zero fields. */
export function spellAsJson(g: Gen, s: Schematic): string {
  return toJson(g, spelledValue(g, s), "");
}

/** The same schematic spelled as YAML with other key orders and indentation. */
export function spellAsYaml(g: Gen, s: Schematic): string {
  const text = marshal(spelledValue(g, s), { indent: g.pick([2, 3, 4, 8]) });
  return g.bool(0.3) ? `# spelled differently\n---\n${text}` : text;
}

// --- fuzz inputs -----------------------------------------------------------------------------

const TOKENS = [
  ":",
  ": ",
  "-",
  "- ",
  " ",
  "  ",
  "\n",
  "\n  ",
  "\t",
  "{",
  "}",
  "[",
  "]",
  ",",
  "&a ",
  "*a",
  "&b ",
  "*b",
  "!!str ",
  "!!int ",
  "!!binary ",
  "!!merge ",
  "!custom ",
  "! ",
  "<<: ",
  "'",
  '"',
  "#",
  "|",
  "|-",
  ">",
  "---\n",
  "...\n",
  "%YAML 1.1\n",
  "\\u",
  "\\ud800",
  "0x",
  "0o7",
  "~",
  "? ",
  "customization",
  "overlay",
  "options",
  "meta",
  "key",
  "value",
  "extraKernelArgs",
  "systemExtensions",
  "officialExtensions",
  "bootloader",
  "secureboot",
  "diskImage",
  "sectorSize",
  "256",
  "1e400",
  "2001-12-14",
  "yes",
  "null",
  "\u0000",
  "\u00a0",
  "😀",
  "\ufeff",
  "\u2028",
  "\\u2029",
];

/** A billion-laughs style document (must be rejected quickly, not expanded). */
export function aliasBomb(levels: number, width: number): string {
  const lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
  for (let i = 1; i <= levels; i++) {
    lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(", ")}]`);
  }
  return `overlay:\n  options:\n${lines.map((l) => `    ${l}`).join("\n")}\n`;
}

function mutate(g: Gen, s: string): string {
  const chars = Array.from(s);
  const pos = () => g.int(0, chars.length);
  switch (g.int(0, 7)) {
    case 0: // replace a character
      if (chars.length) chars[g.int(0, chars.length - 1)] = g.pick(Array.from(ALPHABET));
      break;
    case 1: // insert a token
      chars.splice(pos(), 0, ...Array.from(g.pick(TOKENS)));
      break;
    case 2: {
      // delete a range
      const at = pos();
      chars.splice(at, g.int(1, 8));
      break;
    }
    case 3: {
      // duplicate a range
      const at = pos();
      const piece = chars.slice(at, at + g.int(1, 40));
      chars.splice(pos(), 0, ...piece);
      break;
    }
    case 4: // truncate
      chars.length = pos();
      break;
    case 5: {
      // swap two lines
      const lines = chars.join("").split("\n");
      const i = g.int(0, lines.length - 1);
      const j = g.int(0, lines.length - 1);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines.join("\n");
    }
    case 6: {
      // re-indent a line
      const lines = chars.join("").split("\n");
      const i = g.int(0, lines.length - 1);
      lines[i] = " ".repeat(g.int(0, 6)) + lines[i]!.trimStart();
      return lines.join("\n");
    }
    default:
      chars.splice(pos(), 0, ...Array.from(g.pick(TOKENS)), ...Array.from(g.pick(TOKENS)));
  }
  return chars.join("");
}

/** One fuzz input: random tokens, a mutated seed, a generated spelling, or raw bytes. */
export function fuzzInput(g: Gen, seeds: readonly string[]): string | Uint8Array {
  const r = g.random();
  if (r < 0.1) return Array.from({ length: g.int(0, 40) }, () => g.pick(TOKENS)).join("");
  if (r < 0.15) {
    const bytes = new Uint8Array(g.int(0, 64));
    for (let i = 0; i < bytes.length; i++) bytes[i] = g.int(0, 255);
    return bytes;
  }
  if (r < 0.17) return aliasBomb(g.int(3, 9), g.int(2, 10));
  if (r < 0.3) {
    const s = arbitrarySchematic(g);
    return g.bool() ? spellAsYaml(g, s) : spellAsJson(g, s);
  }
  let s = g.pick(seeds);
  for (let i = g.int(1, 4); i > 0; i--) s = mutate(g, s);
  if (g.bool(0.05)) return new TextEncoder().encode(s);
  return s;
}

/**
 * A YAML emitter that prints values byte for byte as go.yaml.in/yaml/v4 does.
 *
 * Written from the rules of go-yaml v4 (representer → desolver → serializer → libyaml emitter),
 * limited to the values Bootforge needs: Go structs (plain objects, insertion order), Go maps
 * (`GoMap`, natural key order), slices, strings, ints, float64s, bools, nil and timestamps.
 *
 * - `marshal(v)` is `yaml.Marshal(v)`: indent 4, unlimited line width.
 * - `marshal(v, { indent: 2 })` is `yaml.NewEncoder(w)` + `SetIndent(2)` for every value whose
 *   plain, single- or double-quoted scalars fit in 80 columns; pass `lineWidth: 80` as well to get
 *   the encoder's line folding for long scalars containing spaces.
 *
 * No anchors, tags, comments or flow style: go-yaml never produces them for plain Go values
 * (flow style only for empty collections, `{}` and `[]`).
 */

import { resolvePlain } from "./resolve.js";

/** A Go float64. Printed with strconv.FormatFloat(f, 'g', -1, 64): 1.5, 1e+06, .inf, -.inf, .nan. */
export class GoFloat {
  constructor(readonly value: number) {}
}

/**
 * A Go time.Time, printed in RFC 3339 with nanoseconds (`2001-12-14T21:59:43.1Z`). `text` must
 * already be in that form; the decoder produces it from YAML timestamps.
 */
export class GoTime {
  constructor(readonly text: string) {}
}

/** A key of a Go `map[string]any` (or `map[any]any`, as decoded into an `any`). */
export type GoMapKey = string | number | bigint | boolean | null | GoFloat;

/**
 * A Go map. Its keys are emitted in go-yaml's natural order (numbers numerically, strings with
 * embedded numbers compared as numbers, letters before other characters), not insertion order.
 */
export class GoMap {
  readonly entries: ReadonlyArray<readonly [GoMapKey, YamlValue]>;

  constructor(entries: Iterable<readonly [GoMapKey, YamlValue]> | Record<string, YamlValue> = []) {
    this.entries = Symbol.iterator in entries ? Array.from(entries) : Object.entries(entries);
  }

  get size(): number {
    return this.entries.length;
  }
}

/**
 * A value to print. A plain object is a Go struct: keys in insertion order, `undefined` skipped
 * (the caller applies `omitempty`). An integral JS number is a Go int; a non-integral one is
 * printed as a float64 (prefer `GoFloat`, which also prints integral floats like `1`).
 */
export type YamlValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | GoFloat
  | GoTime
  | YamlValue[]
  | GoMap
  | { [key: string]: YamlValue | undefined };

export interface MarshalOptions {
  /** Spaces per level, 2–9 (go-yaml falls back to 2 outside that range). Default 4 (`yaml.Marshal`). */
  indent?: number;
  /** Preferred line width; negative means unlimited (`yaml.Marshal`). `yaml.NewEncoder` uses 80. */
  lineWidth?: number;
}

// ---------------------------------------------------------------------------------------------
// Representation: Go value → node tree with the requested scalar style (representer + desolver).

type Style = "plain" | "single" | "double" | "literal";

interface ScalarNode {
  readonly kind: "scalar";
  readonly value: string;
  readonly style: Style;
}
interface SeqNode {
  readonly kind: "seq";
  readonly items: Node[];
}
interface MapNode {
  readonly kind: "map";
  readonly pairs: Array<readonly [Node, Node]>;
}
type Node = ScalarNode | SeqNode | MapNode;

const plain = (value: string): ScalarNode => ({ kind: "scalar", value, style: "plain" });

function represent(v: YamlValue | undefined, depth: number): Node {
  if (depth > 10_000) throw new RangeError("yaml: value nested too deeply");
  if (v === null || v === undefined) return plain("null");
  switch (typeof v) {
    case "string":
      return representString(v);
    case "boolean":
      return plain(v ? "true" : "false");
    case "bigint":
      return plain(v.toString());
    case "number":
      return plain(Number.isInteger(v) && !Object.is(v, -0) ? String(v) : formatGoFloat(v));
    default:
      break;
  }
  if (v instanceof GoFloat) return plain(formatGoFloat(v.value));
  if (v instanceof GoTime) return plain(v.text);
  if (Array.isArray(v)) return { kind: "seq", items: v.map((x) => represent(x, depth + 1)) };
  if (v instanceof GoMap) {
    const sorted = [...v.entries].sort((a, b) => compareKeys(a[0], b[0]));
    return {
      kind: "map",
      pairs: sorted.map(([k, x]) => [represent(k, depth + 1), represent(x, depth + 1)] as const),
    };
  }
  const pairs: Array<readonly [Node, Node]> = [];
  for (const [k, x] of Object.entries(v)) {
    if (x === undefined) continue;
    pairs.push([representString(k), represent(x, depth + 1)]);
  }
  return { kind: "map", pairs };
}

/** go-yaml's stringv + desolver: the style a Go string asks the emitter for. */
function representString(s: string): ScalarNode {
  if (s.includes("\n")) {
    return { kind: "scalar", value: s, style: shouldUseLiteralStyle(s) ? "literal" : "double" };
  }
  if (isBase60Float(s) || isOldBool(s) || s === "<<") return { kind: "scalar", value: s, style: "single" };
  // A plain string that would read back as another type is double-quoted (QuoteLegacy).
  if (resolvesToNonString(s)) return { kind: "scalar", value: s, style: "double" };
  return { kind: "scalar", value: s, style: "plain" };
}

/** Go's unicode.IsSpace. */
function isGoSpace(cp: number): boolean {
  return (
    (cp >= 0x09 && cp <= 0x0d) ||
    cp === 0x20 ||
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

function shouldUseLiteralStyle(s: string): boolean {
  if (utf8Length(s) < 2) return false;
  for (const ch of s) if (!isGoSpace(ch.codePointAt(0)!)) return true;
  return false;
}

const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

/** YAML 1.1 sexagesimal numbers (`12:30`), which go-yaml single-quotes for old parsers. */
export function isBase60Float(s: string): boolean {
  if (s === "") return false;
  const c = s[0]!;
  if (!(c === "+" || c === "-" || (c >= "0" && c <= "9")) || !s.includes(":")) return false;
  return BASE60_FLOAT.test(s);
}

const OLD_BOOLS = new Set([
  "y",
  "Y",
  "yes",
  "Yes",
  "YES",
  "on",
  "On",
  "ON",
  "n",
  "N",
  "no",
  "No",
  "NO",
  "off",
  "Off",
  "OFF",
]);

/** YAML 1.1 booleans (`yes`, `off`, `N`…), which go-yaml single-quotes for old parsers. */
export function isOldBool(s: string): boolean {
  return OLD_BOOLS.has(s);
}

function resolvesToNonString(s: string): boolean {
  return resolvePlain(s).tag !== "str";
}

/** strconv.FormatFloat(f, 'g', -1, 64) with go-yaml's spellings of the special values. */
export function formatGoFloat(f: number): string {
  if (Number.isNaN(f)) return ".nan";
  if (f === Infinity) return ".inf";
  if (f === -Infinity) return "-.inf";
  if (f === 0) return Object.is(f, -0) ? "-0" : "0";
  const neg = f < 0;
  const [mant, expText] = Math.abs(f).toExponential().split("e") as [string, string];
  const digits = mant.replace(".", "");
  const exp = Number(expText);
  let out: string;
  if (exp < -4 || exp >= 6) {
    // %e form: d.ddde±XX, at least two exponent digits.
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    out = `${m}e${exp < 0 ? "-" : "+"}${e < 10 ? "0" : ""}${e}`;
  } else if (exp < 0) {
    out = `0.${"0".repeat(-exp - 1)}${digits}`;
  } else if (digits.length <= exp + 1) {
    out = digits + "0".repeat(exp + 1 - digits.length);
  } else {
    out = `${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
  }
  return neg ? `-${out}` : out;
}

// ---------------------------------------------------------------------------------------------
// Natural key order (go-yaml's keyList.Less).

/** reflect.Kind numbers, for ordering keys of different kinds. */
const KIND_BOOL = 1;
const KIND_INT = 2;
const KIND_UINT64 = 11;
const KIND_FLOAT64 = 14;
const KIND_INTERFACE = 20; // a nil key
const KIND_STRING = 24;

const MAX_INT64 = (1n << 63n) - 1n;

interface KeyInfo {
  kind: number;
  num?: number; // keyFloat
  exact?: bigint | number | boolean; // for numLess
  str?: string;
}

function keyInfo(k: GoMapKey): KeyInfo {
  if (k === null) return { kind: KIND_INTERFACE };
  if (typeof k === "string") return { kind: KIND_STRING, str: k };
  if (typeof k === "boolean") return { kind: KIND_BOOL, num: k ? 1 : 0, exact: k };
  if (typeof k === "bigint") {
    return { kind: k > MAX_INT64 ? KIND_UINT64 : KIND_INT, num: Number(k), exact: k };
  }
  if (typeof k === "number") {
    if (Number.isInteger(k)) return { kind: KIND_INT, num: k, exact: BigInt(k) };
    return { kind: KIND_FLOAT64, num: k, exact: k };
  }
  return { kind: KIND_FLOAT64, num: k.value, exact: k.value };
}

const isLetter = (ch: string) => /\p{L}/u.test(ch);
const isDigit = (ch: string) => /\p{Nd}/u.test(ch);

/** go-yaml's keyList.Less as a comparator. */
export function compareKeys(x: GoMapKey, y: GoMapKey): number {
  return keyLess(x, y) ? -1 : keyLess(y, x) ? 1 : 0;
}

function keyLess(x: GoMapKey, y: GoMapKey): boolean {
  const a = keyInfo(x);
  const b = keyInfo(y);
  if (a.num !== undefined && b.num !== undefined) {
    if (a.num !== b.num) return a.num < b.num; // NaN: never less, as in Go
    if (a.kind !== b.kind) return a.kind < b.kind;
    const ea = a.exact!;
    const eb = b.exact!;
    if (typeof ea === "boolean" || typeof eb === "boolean") return !ea && eb === true;
    return ea < eb;
  }
  if (a.kind !== KIND_STRING || b.kind !== KIND_STRING) return a.kind < b.kind;
  return stringLess(a.str!, b.str!);
}

function stringLess(as: string, bs: string): boolean {
  const ar = Array.from(as);
  const br = Array.from(bs);
  let digits = false;
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) {
      digits = isDigit(ar[i]!);
      continue;
    }
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
    if (al || bl) return digits ? al : bl;
    // Compare the runs of ASCII digits starting here as numbers (Go uses int64 arithmetic).
    let an = 0n;
    let bn = 0n;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]!); j--) {
        if (ar[j] !== "0") {
          an = 1n;
          bn = 1n;
          break;
        }
      }
    }
    let ai = i;
    for (; ai < ar.length && isDigit(ar[ai]!); ai++) an = BigInt.asIntN(64, an * 10n + digitValue(ar[ai]!));
    let bi = i;
    for (; bi < br.length && isDigit(br[bi]!); bi++) bn = BigInt.asIntN(64, bn * 10n + digitValue(br[bi]!));
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]!.codePointAt(0)! < br[i]!.codePointAt(0)!;
  }
  return ar.length < br.length;
}

/** `int64(r - '0')` as Go computes it, also for non-ASCII digits. */
function digitValue(ch: string): bigint {
  return BigInt(ch.codePointAt(0)! - 0x30);
}

// ---------------------------------------------------------------------------------------------
// Emission (libyaml's emitter, restricted to block collections, empty flow collections and
// untagged scalars).

const isBreakCp = (cp: number) => cp === 0x0d || cp === 0x0a || cp === 0x85 || cp === 0x2028 || cp === 0x2029;
const isBlankCp = (cp: number) => cp === 0x20 || cp === 0x09;

/** libyaml's is_printable, expressed on code points. */
function isPrintableCp(cp: number): boolean {
  return (
    cp === 0x0a ||
    (cp >= 0x20 && cp <= 0x7e) ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff)
  );
}

function utf8Length(s: string): number {
  let n = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
  }
  return n;
}

const ASCII = Array.from({ length: 128 }, (_, i) => String.fromCharCode(i));

interface Analysis {
  cps: number[];
  multiline: boolean;
  flowPlainAllowed: boolean;
  blockPlainAllowed: boolean;
  singleQuotedAllowed: boolean;
  blockAllowed: boolean;
}

/** libyaml's yaml_emitter_analyze_scalar. */
function analyzeScalar(value: string): Analysis {
  const cps = Array.from(value, (ch) => ch.codePointAt(0)!);
  if (cps.length === 0) {
    return {
      cps,
      multiline: false,
      flowPlainAllowed: false,
      blockPlainAllowed: true,
      singleQuotedAllowed: true,
      blockAllowed: false,
    };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let tabCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;

  if (value.startsWith("---") || value.startsWith("...")) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  const n = cps.length;
  for (let i = 0; i < n; i++) {
    const c = cps[i]!;
    const followedByWhitespace = i + 1 >= n || isBlankCp(cps[i + 1]!);
    const ch = c < 0x80 ? ASCII[c]! : "";
    if (i === 0) {
      switch (ch) {
        case "#":
        case ",":
        case "[":
        case "]":
        case "{":
        case "}":
        case "&":
        case "*":
        case "!":
        case "|":
        case ">":
        case "'":
        case '"':
        case "%":
        case "@":
        case "`":
          flowIndicators = true;
          blockIndicators = true;
          break;
        case "?":
        case ":":
          flowIndicators = true;
          if (followedByWhitespace) blockIndicators = true;
          break;
        case "-":
          if (followedByWhitespace) {
            flowIndicators = true;
            blockIndicators = true;
          }
          break;
      }
    } else {
      switch (ch) {
        case ",":
        case "?":
        case "[":
        case "]":
        case "{":
        case "}":
          flowIndicators = true;
          break;
        case ":":
          flowIndicators = true;
          if (followedByWhitespace) blockIndicators = true;
          break;
        case "#":
          if (precededByWhitespace) {
            flowIndicators = true;
            blockIndicators = true;
          }
          break;
      }
    }
    if (c === 0x09) tabCharacters = true;
    else if (!isPrintableCp(c)) specialCharacters = true;

    if (c === 0x20) {
      if (i === 0) leadingSpace = true;
      if (i === n - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreakCp(c)) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === n - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = isBlankCp(c) || isBreakCp(c) || c === 0;
  }

  const a: Analysis = {
    cps,
    multiline: lineBreaks,
    flowPlainAllowed: true,
    blockPlainAllowed: true,
    singleQuotedAllowed: true,
    blockAllowed: true,
  };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (trailingSpace) a.blockAllowed = false;
  if (breakSpace) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
    a.singleQuotedAllowed = false;
  }
  if (spaceBreak || tabCharacters || specialCharacters) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
    a.singleQuotedAllowed = false;
  }
  if (spaceBreak || specialCharacters) a.blockAllowed = false;
  if (lineBreaks) {
    a.flowPlainAllowed = false;
    a.blockPlainAllowed = false;
  }
  if (flowIndicators) a.flowPlainAllowed = false;
  if (blockIndicators) a.blockPlainAllowed = false;
  return a;
}

const DOUBLE_ESCAPES: Record<number, string> = {
  0x00: "0",
  0x07: "a",
  0x08: "b",
  0x09: "t",
  0x0a: "n",
  0x0b: "v",
  0x0c: "f",
  0x0d: "r",
  0x1b: "e",
  0x22: '"',
  0x5c: "\\",
  0x85: "N",
  0xa0: "_",
  0x2028: "L",
  0x2029: "P",
};

class Emitter {
  private out = "";
  private column = 0;
  private whitespace = true;
  private indention = true;
  private indent = -1;
  private readonly indents: number[] = [];
  private flowLevel = 0;

  constructor(
    private readonly bestIndent: number,
    private readonly bestWidth: number,
  ) {}

  result(): string {
    return this.out;
  }

  document(root: Node): void {
    this.node(root, { simpleKey: false, inSeqItem: false });
    // Document end: a final line break unless we are already at the start of a line.
    this.writeIndent();
  }

  // --- low-level writer -------------------------------------------------------------------

  private put(s: string): void {
    this.out += s;
    this.column++;
  }

  /** Appends `s`, which holds `chars` characters and no line break. */
  private putRun(s: string, chars: number): void {
    this.out += s;
    this.column += chars;
  }

  private putLineBreak(): void {
    this.out += "\n";
    this.column = 0;
    this.indention = true;
  }

  private writeChar(cp: number): void {
    this.out += cp < 0x80 ? ASCII[cp]! : String.fromCodePoint(cp);
    this.column++;
  }

  private writeLineBreakChar(cp: number): void {
    if (cp === 0x0a) {
      this.putLineBreak();
    } else {
      this.writeChar(cp);
      this.column = 0;
      this.indention = true;
    }
  }

  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) {
      this.putLineBreak();
    }
    while (this.column < indent) this.put(" ");
    this.whitespace = true;
  }

  private writeIndicator(
    indicator: string,
    needWhitespace: boolean,
    isWhitespace: boolean,
    isIndention: boolean,
  ) {
    if (needWhitespace && !this.whitespace) this.put(" ");
    for (const ch of indicator) this.writeChar(ch.codePointAt(0)!);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }

  private increaseIndent(flow: boolean, inSeqItem: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) {
      this.indent = flow ? this.bestIndent : 0;
    } else if (inSeqItem) {
      // The first indent inside a sequence item just skips the "- " indicator.
      this.indent += 2;
    } else {
      this.indent = this.bestIndent * Math.floor((this.indent + this.bestIndent) / this.bestIndent);
    }
  }

  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  // --- nodes --------------------------------------------------------------------------------

  private node(n: Node, ctx: { simpleKey: boolean; inSeqItem: boolean }): void {
    switch (n.kind) {
      case "scalar":
        this.scalar(n, ctx.simpleKey, ctx.inSeqItem);
        return;
      case "seq":
        if (this.flowLevel > 0 || n.items.length === 0) this.flowSequence(n, ctx.inSeqItem);
        else this.blockSequence(n, ctx.inSeqItem);
        return;
      case "map":
        if (this.flowLevel > 0 || n.pairs.length === 0) this.flowMapping(n, ctx.inSeqItem);
        else this.blockMapping(n, ctx.inSeqItem);
        return;
    }
  }

  private blockSequence(n: SeqNode, inSeqItem: boolean): void {
    this.increaseIndent(false, inSeqItem);
    for (const item of n.items) {
      this.writeIndent();
      this.writeIndicator("-", true, false, true);
      this.node(item, { simpleKey: false, inSeqItem: true });
    }
    this.popIndent();
  }

  private blockMapping(n: MapNode, inSeqItem: boolean): void {
    this.increaseIndent(false, inSeqItem);
    for (const [key, value] of n.pairs) {
      this.writeIndent();
      if (this.isSimpleKey(key)) {
        this.node(key, { simpleKey: true, inSeqItem: false });
        this.writeIndicator(":", false, false, false);
      } else {
        this.writeIndicator("?", true, false, true);
        this.node(key, { simpleKey: false, inSeqItem: false });
        this.writeIndent();
        this.writeIndicator(":", true, false, true);
      }
      this.node(value, { simpleKey: false, inSeqItem: false });
    }
    this.popIndent();
  }

  private flowSequence(n: SeqNode, inSeqItem: boolean): void {
    this.writeIndicator("[", true, true, false);
    this.increaseIndent(true, inSeqItem);
    this.flowLevel++;
    let first = true;
    for (const item of n.items) {
      if (!first) this.writeIndicator(",", false, false, false);
      if (this.column === 0 || this.column > this.bestWidth) this.writeIndent();
      this.node(item, { simpleKey: false, inSeqItem: false });
      first = false;
    }
    this.flowLevel--;
    this.popIndent();
    if (this.column === 0) this.writeIndent();
    this.writeIndicator("]", false, false, false);
  }

  private flowMapping(n: MapNode, inSeqItem: boolean): void {
    this.writeIndicator("{", true, true, false);
    this.increaseIndent(true, inSeqItem);
    this.flowLevel++;
    let first = true;
    for (const [key, value] of n.pairs) {
      if (!first) this.writeIndicator(",", false, false, false);
      if (this.column === 0 || this.column > this.bestWidth) this.writeIndent();
      if (this.isSimpleKey(key)) {
        this.node(key, { simpleKey: true, inSeqItem: false });
        this.writeIndicator(":", false, false, false);
      } else {
        this.writeIndicator("?", true, false, false);
        this.node(key, { simpleKey: false, inSeqItem: false });
        if (this.column > this.bestWidth) this.writeIndent();
        this.writeIndicator(":", true, false, false);
      }
      this.node(value, { simpleKey: false, inSeqItem: false });
      first = false;
    }
    this.flowLevel--;
    this.popIndent();
    this.writeIndicator("}", false, false, false);
  }

  private isSimpleKey(key: Node): boolean {
    if (key.kind === "seq") return key.items.length === 0;
    if (key.kind === "map") return key.pairs.length === 0;
    const a = analyzeScalar(key.value);
    if (a.multiline) return false;
    return utf8Length(key.value) <= 128;
  }

  private scalar(n: ScalarNode, simpleKey: boolean, inSeqItem: boolean): void {
    const a = analyzeScalar(n.value);
    let style: Style = n.style;
    if (simpleKey && a.multiline) style = "double";
    if (style === "plain") {
      if ((this.flowLevel > 0 && !a.flowPlainAllowed) || (this.flowLevel === 0 && !a.blockPlainAllowed)) {
        style = "single";
      }
      if (a.cps.length === 0 && (this.flowLevel > 0 || simpleKey)) style = "single";
    }
    if (style === "single" && !a.singleQuotedAllowed) style = "double";
    if (style === "literal" && (!a.blockAllowed || this.flowLevel > 0 || simpleKey)) style = "double";

    this.increaseIndent(true, inSeqItem);
    const allowBreaks = !simpleKey;
    switch (style) {
      case "plain":
        this.writePlain(a.cps, allowBreaks, n.value);
        break;
      case "single":
        this.writeSingleQuoted(a.cps, allowBreaks, n.value);
        break;
      case "double":
        this.writeDoubleQuoted(a.cps, allowBreaks);
        break;
      case "literal":
        this.writeLiteral(a.cps);
        break;
    }
    this.popIndent();
  }

  /** True when a run of `n` characters cannot reach the folding width from here. */
  private fits(n: number): boolean {
    return this.column + n <= this.bestWidth;
  }

  private writePlain(cps: number[], allowBreaks: boolean, value: string): void {
    if (cps.length > 0 && !this.whitespace) this.put(" ");
    if (this.fits(cps.length) && !cps.some(isBreakCp)) {
      this.putRun(value, cps.length);
      if (cps.length > 0) this.whitespace = false;
      this.indention = false;
      return;
    }
    let spaces = false;
    let breaks = false;
    for (let i = 0; i < cps.length; i++) {
      const c = cps[i]!;
      if (c === 0x20) {
        if (allowBreaks && !spaces && this.column > this.bestWidth && cps[i + 1] !== 0x20) {
          this.writeIndent();
        } else {
          this.writeChar(c);
        }
        spaces = true;
      } else if (isBreakCp(c)) {
        if (!breaks && c === 0x0a) this.putLineBreak();
        this.writeLineBreakChar(c);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.writeChar(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    if (cps.length > 0) this.whitespace = false;
    this.indention = false;
  }

  private writeSingleQuoted(cps: number[], allowBreaks: boolean, value: string): void {
    this.writeIndicator("'", true, false, false);
    if (this.fits(2 * cps.length) && !cps.some(isBreakCp)) {
      const quoted = value.replaceAll("'", "''");
      this.putRun(quoted, cps.length + (quoted.length - value.length));
      this.writeIndicator("'", false, false, false);
      this.whitespace = false;
      this.indention = false;
      return;
    }
    let spaces = false;
    let breaks = false;
    const n = cps.length;
    for (let i = 0; i < n; i++) {
      const c = cps[i]!;
      if (c === 0x20) {
        if (
          allowBreaks &&
          !spaces &&
          this.column > this.bestWidth &&
          i > 0 &&
          i < n - 1 &&
          cps[i + 1] !== 0x20
        ) {
          this.writeIndent();
        } else {
          this.writeChar(c);
        }
        spaces = true;
      } else if (isBreakCp(c)) {
        if (!breaks && c === 0x0a) this.putLineBreak();
        this.writeLineBreakChar(c);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (c === 0x27) this.put("'");
        this.writeChar(c);
        this.indention = false;
        spaces = false;
        breaks = false;
      }
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDoubleQuoted(cps: number[], allowBreaks: boolean): void {
    this.writeIndicator('"', true, false, false);
    // libyaml tests for a BOM at the start of the value, not at the current character: a value
    // starting with U+FEFF has every character escaped.
    const bom = cps[0] === 0xfeff;
    let spaces = false;
    const n = cps.length;
    for (let i = 0; i < n; i++) {
      const c = cps[i]!;
      if (!isPrintableCp(c) || bom || isBreakCp(c) || c === 0x22 || c === 0x5c) {
        this.put("\\");
        const short = DOUBLE_ESCAPES[c];
        if (short !== undefined) {
          this.put(short);
        } else {
          const [prefix, width] = c <= 0xff ? ["x", 2] : c <= 0xffff ? ["u", 4] : ["U", 8];
          this.put(prefix);
          for (const d of c.toString(16).toUpperCase().padStart(width, "0")) this.put(d);
        }
        spaces = false;
      } else if (c === 0x20) {
        if (allowBreaks && !spaces && this.column > this.bestWidth && i > 0 && i < n - 1) {
          this.writeIndent();
          if (cps[i + 1] === 0x20) this.put("\\");
        } else {
          this.writeChar(c);
        }
        spaces = true;
      } else {
        this.writeChar(c);
        spaces = false;
      }
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(cps: number[]): void {
    this.writeIndicator("|", true, false, false);
    if (cps[0] === 0x20) this.writeIndicator(String(this.bestIndent), false, false, false);
    const n = cps.length;
    let chomp = "";
    if (n === 0 || !isBreakCp(cps[n - 1]!)) chomp = "-";
    else if (n === 1 || isBreakCp(cps[n - 2]!)) chomp = "+";
    if (chomp) this.writeIndicator(chomp, false, false, false);
    this.putLineBreak();
    this.whitespace = true;
    let breaks = true;
    for (const c of cps) {
      if (isBreakCp(c)) {
        this.writeLineBreakChar(c);
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.writeChar(c);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

/**
 * Prints `value` as go-yaml v4 does. Default options are those of `yaml.Marshal` (indent 4,
 * unlimited width), which is what upstream uses for schematic IDs.
 */
export function marshal(value: YamlValue, options: MarshalOptions = {}): string {
  let indent = options.indent ?? 4;
  if (!Number.isInteger(indent) || indent < 2 || indent > 9) indent = 2;
  let width = options.lineWidth ?? -1;
  if (width >= 0 && width <= indent * 2) width = 80;
  if (width < 0) width = 2 ** 31 - 1;
  const emitter = new Emitter(indent, width);
  emitter.document(represent(value, 0));
  return emitter.result();
}

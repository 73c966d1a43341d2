/**
 * Strict YAML (and JSON) decoding with go.yaml.in/yaml/v4 semantics, for documents that upstream
 * decodes with `yaml.NewDecoder(r).KnownFields(true).Decode(&typedStruct)`.
 *
 * Parsing uses the `yaml` package (failsafe schema, so every scalar keeps its text and style);
 * typing follows go-yaml:
 * - only the first document is read; no document at all is an error (go-yaml's `EOF`);
 * - duplicate keys (same node kind and text) are errors; unknown struct fields are errors;
 * - plain scalars resolve like go-yaml (`resolve.ts`): ints in `0x`/`0o`/`0b`/leading-`0` octal
 *   with `_`, YAML 1.2 bools, null, floats, timestamps;
 * - a string field takes the source text of an int, float or bool scalar (`1.50` stays `1.50`),
 *   a null leaves it empty, and null items are dropped from string lists;
 * - bool fields also accept the YAML 1.1 words (`yes`, `off`…); uint fields accept lossless floats;
 * - anchors and aliases are expanded, merge keys (`<<`) are honoured, with go-yaml's aliasing
 *   ratio check plus absolute budgets (nodes, expanded bytes, depth) against alias bombs.
 *
 * Every failure is a BootforgeError of kind "invalid-input" (or "too-large") that names the line,
 * the column and the dotted path of the offending field.
 */

import {
  Composer,
  LineCounter,
  Parser,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
} from "yaml";
import { BootforgeError } from "../errors/index.js";
import { GoFloat, GoMap, GoTime, type GoMapKey, type YamlValue } from "./emit.js";
import { resolvePlain, type Resolved } from "./resolve.js";

// ---------------------------------------------------------------------------------------------
// Nodes

export type ScalarStyle = "plain" | "single" | "double" | "literal" | "folded";

interface NodeBase {
  /** 1-based line and column of the node's first character. */
  readonly line: number;
  readonly column: number;
  /** Explicit tag in go-yaml's short form (`!!str`, `!`, `!custom`), if any. */
  readonly tag: string | undefined;
}
export interface ScalarNode extends NodeBase {
  readonly kind: "scalar";
  readonly value: string;
  readonly style: ScalarStyle;
}
export interface SeqNode extends NodeBase {
  readonly kind: "seq";
  readonly items: YNode[];
}
export interface MapNode extends NodeBase {
  readonly kind: "map";
  readonly pairs: Array<readonly [YNode, YNode]>;
}
export interface AliasNode extends NodeBase {
  readonly kind: "alias";
  readonly name: string;
  readonly target: YNode;
}
export type YNode = ScalarNode | SeqNode | MapNode | AliasNode;

export interface DecodeLimits {
  /** Largest accepted input, in bytes (UTF-8). */
  maxBytes: number;
  /** Deepest nesting, counting alias expansion (go-yaml allows 10 000; we allow less). */
  maxDepth: number;
  /** Most nodes constructed, counting alias expansion. */
  maxNodes: number;
  /** Most scalar bytes constructed, counting alias expansion. */
  maxExpandedBytes: number;
}

export const DEFAULT_LIMITS: DecodeLimits = {
  maxBytes: 1 << 20,
  maxDepth: 1000,
  maxNodes: 2_000_000,
  maxExpandedBytes: 16 << 20,
};

// ---------------------------------------------------------------------------------------------
// Errors

export interface Where {
  line?: number | undefined;
  column?: number | undefined;
  path?: string | undefined;
}

function describe(where: Where): string {
  const at =
    where.line === undefined
      ? ""
      : where.column === undefined
        ? `line ${where.line}`
        : `line ${where.line}, column ${where.column}`;
  const path = where.path ? where.path : "";
  return [at, path].filter(Boolean).join(": ");
}

/** An invalid-input error whose message starts with the position and the field path. */
export function decodeError(problem: string, where: Where): BootforgeError {
  const prefix = describe(where);
  return new BootforgeError("invalid-input", prefix ? `${prefix}: ${problem}` : problem, {
    line: where.line,
    column: where.column,
    path: where.path || undefined,
  });
}

function tooLarge(message: string): BootforgeError {
  return new BootforgeError("too-large", message);
}

// ---------------------------------------------------------------------------------------------
// Text and parsing

/** go-yaml's reader accepts these characters only (YAML 1.1 "printable"). */
function isYamlPrintable(cp: number): boolean {
  return (
    cp === 0x09 ||
    cp === 0x0a ||
    cp === 0x0d ||
    (cp >= 0x20 && cp <= 0x7e) ||
    cp === 0x85 ||
    (cp >= 0xa0 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: Array.from(text.slice(start, offset)).length + 1 };
}

/**
 * Bytes or text to a string, as go-yaml reads them: UTF-8 (a BOM is dropped) or UTF-16 with a
 * BOM; invalid encodings and control characters are errors. Enforces `maxBytes`.
 */
export function decodeText(input: string | Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): string {
  let text: string;
  if (typeof input === "string") {
    if (input.length > limits.maxBytes || Buffer.byteLength(input, "utf8") > limits.maxBytes) {
      throw tooLarge(`document is larger than ${limits.maxBytes} bytes`);
    }
    text = input;
  } else {
    if (input.byteLength > limits.maxBytes) {
      throw tooLarge(
        `document is ${input.byteLength} bytes, larger than the limit of ${limits.maxBytes} bytes`,
      );
    }
    let encoding = "utf-8";
    if (input[0] === 0xff && input[1] === 0xfe) encoding = "utf-16le";
    else if (input[0] === 0xfe && input[1] === 0xff) encoding = "utf-16be";
    try {
      text = new TextDecoder(encoding, { fatal: true, ignoreBOM: false }).decode(input);
    } catch {
      throw decodeError(`invalid ${encoding.toUpperCase()} text`, {});
    }
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  for (let i = 0; i < text.length; i++) {
    const cp = text.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (!isYamlPrintable(cp)) {
      const what =
        cp >= 0xd800 && cp <= 0xdfff
          ? "invalid text (unpaired surrogate)"
          : "control characters are not allowed";
      throw decodeError(`${what} (U+${cp.toString(16).toUpperCase().padStart(4, "0")})`, positionOf(text, i));
    }
  }
  return text;
}

const LONG_TAG_PREFIX = "tag:yaml.org,2002:";

function shortTag(tag: string | undefined | null): string | undefined {
  if (!tag) return undefined;
  return tag.startsWith(LONG_TAG_PREFIX) ? `!!${tag.slice(LONG_TAG_PREFIX.length)}` : tag;
}

/** go-yaml rejects surrogate and out-of-range code points in `\x`, `\u` and `\U` escapes. */
function checkDoubleQuotedEscapes(raw: string, offset: number, text: string): void {
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== "\\") continue;
    const kind = raw[i + 1];
    const width = kind === "x" ? 2 : kind === "u" ? 4 : kind === "U" ? 8 : 0;
    if (width > 0) {
      const hex = raw.slice(i + 2, i + 2 + width);
      const v = /^[0-9a-fA-F]+$/.test(hex) && hex.length === width ? parseInt(hex, 16) : NaN;
      if (Number.isNaN(v) || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff) {
        throw decodeError("found invalid Unicode character escape code", positionOf(text, offset + i));
      }
      i += 1 + width;
    } else {
      i += 1;
    }
  }
}

/**
 * Parses the first YAML document of `input` into nodes (aliases point at their anchors' nodes;
 * nothing is expanded yet). Later documents are not read, as in go-yaml.
 */
export function parseFirstDocument(input: string | Uint8Array, limits: DecodeLimits = DEFAULT_LIMITS): YNode {
  const text = decodeText(input, limits);
  const lines = new LineCounter();
  const composer = new Composer({ schema: "failsafe", strict: true, uniqueKeys: false, merge: false });
  let doc: Document.Parsed | undefined;
  try {
    for (const d of composer.compose(new Parser(lines.addNewLine).parse(text))) {
      doc = d;
      break;
    }
  } catch (e) {
    throw decodeError(`cannot parse YAML: ${e instanceof Error ? e.message : String(e)}`, {});
  }
  const pos = (offset: number) => {
    const p = lines.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc === undefined) throw decodeError("empty document (no YAML content)", { line: 1, column: 1 });
  const err = doc.errors[0];
  if (err) {
    const message = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw decodeError(message, pos(err.pos[0]));
  }
  if (doc.contents === null) {
    const end = doc.range[0];
    return { kind: "scalar", value: "", style: "plain", tag: undefined, ...pos(end) };
  }

  const anchors = new Map<string, YNode>();
  const convert = (n: Node | null, fallbackOffset: number, depth: number): YNode => {
    if (depth > limits.maxDepth) {
      throw decodeError(`document nested deeper than ${limits.maxDepth} levels`, pos(fallbackOffset));
    }
    if (n === null) {
      return { kind: "scalar", value: "", style: "plain", tag: undefined, ...pos(fallbackOffset) };
    }
    const at = pos(n.range?.[0] ?? fallbackOffset);
    if (isAlias(n)) {
      const target = anchors.get(n.source);
      if (!target) throw decodeError(`unknown anchor '${n.source}' referenced`, at);
      return { kind: "alias", name: n.source, target, tag: undefined, ...at };
    }
    const tag = shortTag(n.tag);
    let out: YNode;
    if (isScalar(n)) {
      const style: ScalarStyle =
        n.type === "QUOTE_DOUBLE"
          ? "double"
          : n.type === "QUOTE_SINGLE"
            ? "single"
            : n.type === "BLOCK_LITERAL"
              ? "literal"
              : n.type === "BLOCK_FOLDED"
                ? "folded"
                : "plain";
      if (style === "double" && n.range)
        checkDoubleQuotedEscapes(text.slice(n.range[0], n.range[1]), n.range[0], text);
      out = { kind: "scalar", value: typeof n.value === "string" ? n.value : "", style, tag, ...at };
      if (n.anchor) anchors.set(n.anchor, out);
      return out;
    }
    if (isSeq(n)) {
      const items: YNode[] = [];
      out = { kind: "seq", items, tag, ...at };
      if (n.anchor) anchors.set(n.anchor, out);
      for (const item of n.items) items.push(convert(item as Node | null, n.range?.[1] ?? 0, depth + 1));
      return out;
    }
    if (isMap(n)) {
      const pairs: Array<readonly [YNode, YNode]> = [];
      out = { kind: "map", pairs, tag, ...at };
      if (n.anchor) anchors.set(n.anchor, out);
      for (const p of n.items) {
        const keyOffset =
          (p.key as Node | null)?.range?.[0] ?? (p.value as Node | null)?.range?.[0] ?? n.range?.[0] ?? 0;
        const key = convert(p.key as Node | null, keyOffset, depth + 1);
        const valueOffset = (p.key as Node | null)?.range?.[1] ?? keyOffset;
        pairs.push([key, convert(p.value as Node | null, valueOffset, depth + 1)]);
      }
      return out;
    }
    throw decodeError("unsupported YAML node", at);
  };
  return convert(doc.contents, 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Typing (go-yaml's constructor)

/** What a Go value is decoded into. */
export type Spec =
  | { readonly type: "string" }
  | { readonly type: "uint"; readonly bits: 8 | 16 | 32 | 64 }
  | { readonly type: "bool" }
  | { readonly type: "struct"; readonly name: string; readonly fields: Readonly<Record<string, Spec>> }
  | { readonly type: "slice"; readonly of: Spec }
  /**
   * A Go enum with enumer's `-text` UnmarshalText: any scalar's text, matched exactly or
   * lower-cased against `values`; decodes to the matching value. Null leaves the zero value,
   * which is `values[0]`.
   */
  | { readonly type: "enum"; readonly name: string; readonly values: readonly string[] }
  /** Go `map[string]any`. */
  | { readonly type: "map" }
  /** Go `any`. */
  | { readonly type: "any" };

/** Returned by a constructor when go-yaml leaves the target untouched without an error. */
const UNSET = Symbol("unset");
type Maybe<T> = T | typeof UNSET;

type Typed =
  | { tag: "str" }
  | Exclude<Resolved, { tag: "str" }>
  /** An explicit tag go-yaml cannot resolve (`!`, `!custom`, `!!map` on a scalar…). */
  | { tag: "custom"; name: string };

const RESOLVABLE = new Set(["!!str", "!!bool", "!!int", "!!float", "!!null", "!!timestamp"]);

function goTagName(t: Typed): string {
  return t.tag === "custom" ? t.name : `!!${t.tag}`;
}

function truncate(v: string): string {
  return v.length > 10 ? `${v.slice(0, 7)}...` : v;
}

/**
 * Decodes nodes into Go-shaped values. One instance per document: it carries the aliasing
 * budget.
 */
export class GoDecoder {
  private constructs = 0;
  private aliasCount = 0;
  private aliasDepth = 0;
  private scalarBytes = 0;
  private readonly expanding = new Set<AliasNode>();

  constructor(private readonly limits: DecodeLimits = DEFAULT_LIMITS) {}

  /** Decodes `node` as `spec`; Go's zero value when go-yaml would leave the target untouched. */
  decode(node: YNode, spec: Spec, path = ""): unknown {
    const v = this.construct(node, spec, path, 0);
    return v === UNSET ? zeroValue(spec) : v;
  }

  // --- plumbing -------------------------------------------------------------------------------

  private account(n: YNode, path: string, depth: number): void {
    this.constructs++;
    if (this.aliasDepth > 0) this.aliasCount++;
    if (depth > this.limits.maxDepth) {
      throw decodeError(`document nested deeper than ${this.limits.maxDepth} levels`, { ...at(n), path });
    }
    if (this.constructs > this.limits.maxNodes) {
      throw tooLarge(`document expands to more than ${this.limits.maxNodes} nodes`);
    }
    // go-yaml's DefaultAliasCheck.
    if (this.aliasCount > 100 && this.constructs > 1000) {
      const c = this.constructs;
      const allowed = c <= 400_000 ? 0.99 : c >= 4_000_000 ? 0.1 : 0.99 - 0.89 * ((c - 400_000) / 3_600_000);
      if (this.aliasCount / c > allowed) {
        throw decodeError("document contains excessive aliasing", { ...at(n), path });
      }
    }
  }

  /** Follows aliases (with go-yaml's self-reference check) and calls `fn` on the real node. */
  private withNode<T>(n: YNode, path: string, depth: number, fn: (n: Exclude<YNode, AliasNode>) => T): T {
    this.account(n, path, depth);
    if (n.kind !== "alias") return fn(n);
    if (this.expanding.has(n)) {
      throw decodeError(`anchor '${n.name}' value contains itself`, { ...at(n), path });
    }
    this.expanding.add(n);
    this.aliasDepth++;
    try {
      return this.withNode(n.target, path, depth + 1, fn);
    } finally {
      this.aliasDepth--;
      this.expanding.delete(n);
    }
  }

  private typed(n: ScalarNode, path: string): Typed {
    this.scalarBytes += n.value.length;
    if (this.scalarBytes > this.limits.maxExpandedBytes) {
      throw tooLarge(`document expands to more than ${this.limits.maxExpandedBytes} bytes of text`);
    }
    // indicatedString: !!str, or a quoted/block scalar without a specific tag.
    if (n.tag === "!!str" || ((n.tag === undefined || n.tag === "!") && n.style !== "plain"))
      return { tag: "str" };
    if (n.tag === undefined) return resolvePlain(n.value);
    if (n.tag === "!!binary") {
      throw decodeError("!!binary scalars are not supported", { ...at(n), path });
    }
    if (!RESOLVABLE.has(n.tag)) return { tag: "custom", name: n.tag };
    const want = n.tag.slice(2);
    const r = resolvePlain(n.value, want === "timestamp");
    if (r.tag === want) return r;
    if (want === "float" && r.tag === "int") return { tag: "float", value: Number(r.value) };
    throw decodeError(`cannot decode ${goTagName(r)} \`${truncate(n.value)}\` as a ${n.tag}`, {
      ...at(n),
      path,
    });
  }

  private typeError(n: Exclude<YNode, AliasNode>, t: string, into: string, path: string): BootforgeError {
    const value = n.kind === "scalar" ? ` \`${truncate(n.value)}\`` : "";
    return decodeError(`cannot decode ${t}${value} into ${into}`, { ...at(n), path });
  }

  private nodeTag(n: Exclude<YNode, AliasNode>, path: string): string {
    if (n.kind === "scalar") return goTagName(this.typed(n, path));
    return n.tag && n.tag !== "!" ? n.tag : n.kind === "map" ? "!!map" : "!!seq";
  }

  // --- construction -----------------------------------------------------------------------------

  private construct(node: YNode, spec: Spec, path: string, depth: number): Maybe<unknown> {
    return this.withNode(node, path, depth, (n) => {
      switch (spec.type) {
        case "string":
          return this.toString(n, path);
        case "uint":
          return this.toUint(n, spec.bits, path);
        case "bool":
          return this.toBool(n, path);
        case "enum":
          return this.toEnum(n, spec, path);
        case "struct":
          return this.toStruct(n, spec, path, depth);
        case "slice":
          return this.toSlice(n, spec.of, path, depth);
        case "map":
          return this.toMap(n, path, depth, true);
        case "any":
          return this.toAny(n, path, depth);
      }
    });
  }

  private toString(n: Exclude<YNode, AliasNode>, path: string): Maybe<string> {
    if (n.kind !== "scalar") throw this.typeError(n, this.nodeTag(n, path), "a string", path);
    const t = this.typed(n, path);
    switch (t.tag) {
      case "str":
      case "int":
      case "bool":
      case "float":
        return n.value;
      case "null":
      case "merge":
        return UNSET;
      default:
        throw this.typeError(n, goTagName(t), "a string", path);
    }
  }

  private toUint(n: Exclude<YNode, AliasNode>, bits: number, path: string): Maybe<bigint> {
    const into = `uint${bits === 64 ? "" : bits}`;
    if (n.kind !== "scalar") throw this.typeError(n, this.nodeTag(n, path), into, path);
    const t = this.typed(n, path);
    const max = (1n << BigInt(bits)) - 1n;
    const range = ` (0–${max})`;
    switch (t.tag) {
      case "null":
      case "merge":
        return UNSET;
      case "int":
        if (t.value >= 0n && t.value <= max) return t.value;
        throw decodeError(`cannot decode !!int \`${truncate(n.value)}\` into ${into}${range}`, {
          ...at(n),
          path,
        });
      case "float":
        if (Number.isInteger(t.value) && t.value >= 0 && t.value < 2 ** 64 && BigInt(t.value) <= max) {
          return BigInt(t.value);
        }
        throw decodeError(`cannot decode !!float \`${truncate(n.value)}\` into ${into}${range}`, {
          ...at(n),
          path,
        });
      default:
        throw this.typeError(n, goTagName(t), into, path);
    }
  }

  private toBool(n: Exclude<YNode, AliasNode>, path: string): Maybe<boolean> {
    if (n.kind !== "scalar") throw this.typeError(n, this.nodeTag(n, path), "a bool", path);
    const t = this.typed(n, path);
    switch (t.tag) {
      case "null":
      case "merge":
        return UNSET;
      case "bool":
        return t.value;
      case "str":
        if (["y", "Y", "yes", "Yes", "YES", "on", "On", "ON"].includes(n.value)) return true;
        if (["n", "N", "no", "No", "NO", "off", "Off", "OFF"].includes(n.value)) return false;
        throw this.typeError(n, "!!str", "a bool", path);
      default:
        throw this.typeError(n, goTagName(t), "a bool", path);
    }
  }

  private toEnum(
    n: Exclude<YNode, AliasNode>,
    spec: Extract<Spec, { type: "enum" }>,
    path: string,
  ): Maybe<string> {
    if (n.kind !== "scalar") throw this.typeError(n, this.nodeTag(n, path), spec.name, path);
    if (this.typed(n, path).tag === "null") return UNSET;
    const exact = spec.values.find((v) => v === n.value);
    const found = exact ?? spec.values.find((v) => v === n.value.toLowerCase());
    if (found === undefined) {
      throw decodeError(
        `${JSON.stringify(n.value)} is not a valid ${spec.name} (${spec.values.join(", ")})`,
        {
          ...at(n),
          path,
        },
      );
    }
    return found;
  }

  private isNullScalar(n: Exclude<YNode, AliasNode>, path: string): boolean {
    return n.kind === "scalar" && this.typed(n, path).tag === "null";
  }

  private isMergeKey(n: YNode): boolean {
    return (
      n.kind === "scalar" &&
      (n.tag === "!!merge" || (n.tag === undefined && n.style === "plain" && n.value === "<<"))
    );
  }

  /** go-yaml's UniqueKeys check: two keys of the same kind and text. */
  private checkDuplicates(n: MapNode, path: string): void {
    const seen = new Map<string, YNode>();
    for (const [k] of n.pairs) {
      const id = `${k.kind}\u0000${k.kind === "scalar" ? k.value : k.kind === "alias" ? k.name : ""}`;
      const first = seen.get(id);
      if (first) {
        const name = k.kind === "scalar" ? k.value : k.kind === "alias" ? `*${k.name}` : "";
        throw decodeError(`mapping key ${JSON.stringify(name)} already defined at line ${first.line}`, {
          ...at(k),
          path,
        });
      }
      seen.set(id, k);
    }
  }

  /**
   * The mapping's key/value pairs after merge keys (`<<`), as go-yaml applies them: the mapping's
   * own pairs, then those of each merged mapping (depth first) whose key is not set yet.
   * `identity` names a key (undefined: go-yaml skips the pair).
   */
  private effectivePairs(
    n: MapNode,
    path: string,
    depth: number,
    identity: (key: YNode) => string | undefined,
    seen?: Set<string>,
    merging: Set<MapNode> = new Set(),
  ): Array<readonly [YNode, YNode]> {
    this.checkDuplicates(n, path);
    let merge: YNode | undefined;
    const out: Array<readonly [YNode, YNode]> = [];
    const top = seen === undefined;
    const keys = seen ?? new Set<string>();
    for (const pair of n.pairs) {
      if (this.isMergeKey(pair[0])) {
        merge = pair[1];
        continue;
      }
      const id = identity(pair[0]);
      if (id !== undefined) {
        if (!top && keys.has(id)) continue;
        keys.add(id);
      }
      out.push(pair);
    }
    if (merge === undefined) return out;
    merging.add(n);
    const sources = merge.kind === "seq" ? merge.items : [merge];
    for (const src of sources) {
      let t = src;
      while (t.kind === "alias") {
        this.countAlias(t, path, depth);
        t = t.target;
      }
      if (t.kind !== "map") {
        throw decodeError("map merge requires map or sequence of maps as the value", { ...at(t), path });
      }
      if (merging.has(t)) throw decodeError("merged mapping contains itself", { ...at(src), path });
      if (depth + 1 > this.limits.maxDepth) {
        throw decodeError(`document nested deeper than ${this.limits.maxDepth} levels`, { ...at(t), path });
      }
      out.push(...this.effectivePairs(t, path, depth + 1, identity, keys, merging));
    }
    merging.delete(n);
    return out;
  }

  private countAlias(n: YNode, path: string, depth: number): void {
    this.aliasDepth++;
    try {
      this.account(n, path, depth);
    } finally {
      this.aliasDepth--;
    }
  }

  private toStruct(
    n: Exclude<YNode, AliasNode>,
    spec: Extract<Spec, { type: "struct" }>,
    path: string,
    depth: number,
  ): Maybe<Record<string, unknown>> {
    if (n.kind !== "map") {
      if (this.isNullScalar(n, path)) return UNSET;
      throw this.typeError(n, this.nodeTag(n, path), spec.name, path);
    }
    const out: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(spec.fields)) out[name] = zeroValue(field);
    const names = new Map<YNode, string>();
    const nameOf = (k: YNode): string => {
      let name = names.get(k);
      if (name === undefined) {
        const v = this.construct(k, { type: "string" }, path, depth + 1);
        if (v === UNSET) {
          throw decodeError(`invalid key in ${spec.name}: keys must be field names`, { ...at(k), path });
        }
        name = v as string;
        names.set(k, name);
      }
      return name;
    };
    const done = new Set<string>();
    for (const [k, v] of this.effectivePairs(n, path, depth, nameOf)) {
      const name = nameOf(k);
      const fieldPath = path ? `${path}.${name}` : name;
      const field = spec.fields[name];
      const keyAt = at(k.kind === "alias" ? k.target : k);
      if (field === undefined) {
        const allowed = Object.keys(spec.fields).join(", ");
        throw decodeError(`field ${name} not found in ${spec.name} (known fields: ${allowed})`, {
          ...keyAt,
          path: fieldPath,
        });
      }
      if (done.has(name))
        throw decodeError(`field ${name} already set in ${spec.name}`, { ...keyAt, path: fieldPath });
      done.add(name);
      const value = this.construct(v, field, fieldPath, depth + 1);
      if (value !== UNSET) out[name] = value;
    }
    return out;
  }

  private toSlice(n: Exclude<YNode, AliasNode>, of: Spec, path: string, depth: number): Maybe<unknown[]> {
    if (n.kind !== "seq") {
      if (this.isNullScalar(n, path)) return UNSET;
      throw this.typeError(n, this.nodeTag(n, path), `a list`, path);
    }
    const out: unknown[] = [];
    n.items.forEach((item, i) => {
      const v = this.construct(item, of, `${path}[${i}]`, depth + 1);
      if (v !== UNSET) out.push(v);
    });
    return out;
  }

  /** The go-yaml short tag of a node used as a key (aliases report their target's). */
  private keyShortTag(k: YNode, path: string): string {
    let t = k;
    while (t.kind === "alias") t = t.target;
    if (t.kind === "scalar") {
      if (t.tag === "!") return "!!str";
      if (this.isMergeKey(t)) return "!!merge";
      const typed = this.typedNoBudget(t);
      return goTagName(typed);
    }
    void path;
    return t.tag && t.tag !== "!" ? t.tag : t.kind === "map" ? "!!map" : "!!seq";
  }

  private typedNoBudget(n: ScalarNode): Typed {
    if (n.tag === "!!str" || ((n.tag === undefined || n.tag === "!") && n.style !== "plain"))
      return { tag: "str" };
    if (n.tag === undefined) return resolvePlain(n.value);
    return { tag: "custom", name: n.tag };
  }

  /** Go `map[string]any` (or, inside `any`, `map[any]any` when a key is not a string). */
  private toMap(
    n: Exclude<YNode, AliasNode>,
    path: string,
    depth: number,
    stringKeys: boolean,
  ): Maybe<GoMap | null> {
    if (n.kind !== "map") {
      if (this.isNullScalar(n, path)) return UNSET;
      throw this.typeError(n, this.nodeTag(n, path), "map[string]any", path);
    }
    const keys = new Map<YNode, { key: GoMapKey; id: string } | undefined>();
    const keyOf = (k: YNode) => {
      if (keys.has(k)) return keys.get(k);
      let r: { key: GoMapKey; id: string } | undefined;
      if (stringKeys) {
        const v = this.construct(k, { type: "string" }, path, depth + 1);
        r = v === UNSET ? undefined : { key: v as string, id: `s:${v as string}` };
      } else {
        const v = this.construct(k, { type: "any" }, path, depth + 1);
        if (v === UNSET) r = undefined;
        else if (Array.isArray(v) || v instanceof GoMap) {
          throw decodeError("cannot use a collection as a map key", { ...at(k), path });
        } else if (v instanceof GoTime) {
          throw decodeError("timestamps are not supported as map keys", { ...at(k), path });
        } else {
          r = { key: v as GoMapKey, id: keyIdentity(v as GoMapKey) };
        }
      }
      keys.set(k, r);
      return r;
    };
    const entries = new Map<string, [GoMapKey, YamlValue]>();
    for (const [k, v] of this.effectivePairs(n, path, depth, (k) => keyOf(k)?.id)) {
      const key = keyOf(k);
      if (key === undefined) continue;
      const childPath = `${path}.${keyLabel(key.key)}`;
      const value = this.construct(v, { type: "any" }, childPath, depth + 1);
      if (value === UNSET) continue;
      entries.set(key.id, [key.key, value as YamlValue]);
    }
    return new GoMap(entries.values());
  }

  private toAny(n: Exclude<YNode, AliasNode>, path: string, depth: number): Maybe<YamlValue> {
    if (n.kind === "seq") {
      const out: YamlValue[] = [];
      n.items.forEach((item, i) => {
        const v = this.construct(item, { type: "any" }, `${path}[${i}]`, depth + 1);
        if (v !== UNSET) out.push(v as YamlValue);
      });
      return out;
    }
    if (n.kind === "map") {
      const stringKeys = n.pairs.every(([k]) => ["!!str", "!!merge"].includes(this.keyShortTag(k, path)));
      return this.toMap(n, path, depth, stringKeys);
    }
    const t = this.typed(n, path);
    switch (t.tag) {
      case "str":
      case "custom":
        return n.value;
      case "null":
        return null;
      case "bool":
        return t.value;
      case "int":
        return t.value >= BigInt(Number.MIN_SAFE_INTEGER) && t.value <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(t.value)
          : t.value;
      case "float":
        return new GoFloat(t.value);
      case "timestamp":
        return new GoTime(t.text);
      case "merge":
        return UNSET;
    }
  }
}

function at(n: YNode): { line: number; column: number } {
  return { line: n.line, column: n.column };
}

function keyLabel(k: GoMapKey): string {
  if (k instanceof GoFloat) return String(k.value);
  return k === null ? "null" : String(k);
}

/** Identity of a Go map key of dynamic type (int 1 and float 1 are different keys). */
function keyIdentity(k: GoMapKey): string {
  if (k === null) return "nil";
  if (typeof k === "string") return `s:${k}`;
  if (typeof k === "boolean") return `b:${k}`;
  if (typeof k === "number") return `i:${k}`;
  if (typeof k === "bigint") return k > (1n << 63n) - 1n ? `u:${k}` : `i:${k}`;
  // NaN is never equal to itself in a Go map: every NaN key is a new entry.
  if (Number.isNaN(k.value)) return `f:nan:${Math.random()}`;
  return `f:${Object.is(k.value, -0) ? "0" : String(k.value)}`;
}

/** Go's zero value for a spec (structs filled with their fields' zero values). */
export function zeroValue(spec: Spec): unknown {
  switch (spec.type) {
    case "string":
      return "";
    case "uint":
      return 0n;
    case "bool":
      return false;
    case "enum":
      return spec.values[0];
    case "slice":
      return [];
    case "map":
    case "any":
      return null;
    case "struct": {
      const out: Record<string, unknown> = {};
      for (const [name, field] of Object.entries(spec.fields)) out[name] = zeroValue(field);
      return out;
    }
  }
}

/**
 * Parses `input` (first document) and decodes it as `spec` with go-yaml's strict rules.
 * Throws BootforgeError ("invalid-input" or "too-large") only.
 */
export function decodeStrict(
  input: string | Uint8Array,
  spec: Spec,
  limits: DecodeLimits = DEFAULT_LIMITS,
): unknown {
  const root = parseFirstDocument(input, limits);
  return new GoDecoder(limits).decode(root, spec);
}

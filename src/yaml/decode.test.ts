import { test } from "node:test";
import assert from "node:assert/strict";
import { isBootforgeError } from "../errors/index.js";
import { DEFAULT_LIMITS, decodeStrict, parseFirstDocument, type Spec } from "./decode.js";
import type { GoMap } from "./emit.js";
import { GoFloat, GoTime, marshal, type YamlValue } from "./emit.js";
import { parseTimestamp, resolvePlain } from "./resolve.js";

const ANY: Spec = { type: "any" };
const any = (text: string) => decodeStrict(text, ANY) as YamlValue;
const roundTrip = (text: string) => marshal(any(text));

const fails = (text: string | Uint8Array, spec: Spec = ANY, kind = "invalid-input") => {
  try {
    decodeStrict(text, spec);
  } catch (e) {
    assert.ok(isBootforgeError(e, kind as "invalid-input"), String(e));
    return e;
  }
  assert.fail(`accepted ${JSON.stringify(text)}`);
};

test("plain scalars resolve like go-yaml", () => {
  const cases: Array<[string, string]> = [
    ["true", "bool"],
    ["False", "bool"],
    ["yes", "str"],
    ["~", "null"],
    ["", "null"],
    ["0x1F", "int"],
    ["0o17", "int"],
    ["0b11", "int"],
    ["017", "int"],
    ["08", "float"],
    ["1_000", "int"],
    ["+5", "int"],
    ["-0", "float"],
    ["9223372036854775808", "int"],
    ["18446744073709551616", "float"],
    ["1e3", "float"],
    ["1e400", "str"],
    [".5", "float"],
    [".5_5", "float"],
    ["._5", "str"],
    [".inf", "float"],
    ["-.INF", "float"],
    ["2001-12-14", "timestamp"],
    ["2001-12-14t21:59:43.10-05:00", "timestamp"],
    ["2001-12-14 21:59:43.10", "timestamp"],
    ["2001-12-14T21:59:43", "str"],
    ["2001-02-29", "str"],
    ["<<", "merge"],
    ["12:30", "str"],
    ["0x", "str"],
  ];
  for (const [s, tag] of cases) assert.equal(resolvePlain(s).tag, tag, s);
  assert.deepEqual(resolvePlain("9223372036854775808"), {
    tag: "int",
    value: 9223372036854775808n,
    uint: true,
  });
  assert.equal(parseTimestamp("2001-12-14t21:59:43.10-05:00"), "2001-12-14T21:59:43.1-05:00");
  assert.equal(parseTimestamp("2001-12-14 21:59:43.1234567891"), "2001-12-14T21:59:43.123456789Z");
  assert.equal(parseTimestamp("2001-1-2T3:4:5+00:00"), "2001-01-02T03:04:05Z");
});

test("values decoded into any re-marshal as go-yaml does", () => {
  assert.equal(
    roundTrip("{b: 1, a: 0x10, c: 1.50, d: 1e6, e: ~, f: [yes, '1'], g: 2001-12-14}"),
    "a: 16\nb: 1\nc: 1.5\nd: 1e+06\ne: null\nf:\n    - 'yes'\n    - \"1\"\ng: 2001-12-14T00:00:00Z\n",
  );
  // Non-string keys make a map[any]any: ints first, numerically, then strings.
  assert.equal(roundTrip("{b: 1, 10: x, 2: y, true: t, ~: n}"), "true: t\n2: 'y'\n10: x\nnull: 'n'\nb: 1\n");
  assert.equal(roundTrip("{0x1: a, 1: b}"), "1: b\n");
  assert.equal(roundTrip("[!!str 1, !!float 2, !custom x, ! 3, !!int '4']"), '- "1"\n- 2\n- x\n- "3"\n- 4\n');
  const v = any("{x: !!float 2}") as GoMap;
  assert.ok(v.entries[0]![1] instanceof GoFloat);
  assert.ok((any("2001-12-14") as unknown) instanceof GoTime);
});

test("merge keys: own keys win, earlier merges win over later ones", () => {
  assert.equal(
    roundTrip("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 0\n"),
    'a:\n    x: 1\n    "y": 1\nb:\n    "y": 2\n    z: 2\nc:\n    x: 0\n    "y": 1\n    z: 2\n'.replaceAll(
      '"y"',
      "'y'",
    ),
  );
  fails("a: &a [1]\nb:\n  <<: *a\n");
  fails("a: &a {<<: *a}\n");
});

test("duplicate keys, unknown anchors, self references and bad escapes are errors", () => {
  assert.match(
    fails("a: 1\nb: 2\na: 3\n").message,
    /line 3, column 1: mapping key "a" already defined at line 1/,
  );
  fails("{1: a, '1': b}");
  fails("a: *x\n");
  fails("a: &x [*x]\n");
  fails('a: "\\ud83d\\ude00"\n');
  fails('a: "\\U00110000"\n');
  fails("a: !!binary aGVsbG8=\n");
  fails("a: !!int 1.5\n");
  fails("a: !!timestamp x\n");
  fails("a:\n\tb: 1\n");
  fails("[[1], [2]]: x\n");
  assert.equal(roundTrip("a: !!timestamp 2001-12-14\n"), "a: 2001-12-14T00:00:00Z\n");
  assert.equal(
    roundTrip("a: !!omap [{x: 1}, {y: 2}]\nb: !!set {z}\n"),
    "a:\n    - x: 1\n    - 'y': 2\nb:\n    z: null\n",
  );
});

test("structs: unknown fields, null keys and types", () => {
  const spec: Spec = {
    type: "struct",
    name: "thing",
    fields: { name: { type: "string" }, size: { type: "uint", bits: 16 }, on: { type: "bool" } },
  };
  assert.deepEqual(decodeStrict("name: x\nsize: 0x10\non: yes\n", spec), { name: "x", size: 16n, on: true });
  assert.deepEqual(decodeStrict("~", spec), { name: "", size: 0n, on: false });
  const e = fails("name: x\nother: 1\n", spec);
  assert.equal(e.line, 2);
  assert.equal(e.path, "other");
  fails("~: x\n", spec);
  fails("size: 65536\n", spec);
  fails("name: [x]\n", spec);
  fails("on: 1\n", spec);
});

test("budgets: depth, aliasing and size", () => {
  fails("[".repeat(DEFAULT_LIMITS.maxDepth + 5) + "]".repeat(DEFAULT_LIMITS.maxDepth + 5));
  const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 10; i++)
    bomb.push(
      `${"b".repeat(i)}: &a${i} [${`*a${i === 1 ? "" : i - 1}, `.repeat(9)}*a${i === 1 ? "" : i - 1}]`,
    );
  const started = Date.now();
  fails(bomb.join("\n") + "\n");
  assert.ok(Date.now() - started < 3000);
  fails("x".repeat(DEFAULT_LIMITS.maxBytes + 1), ANY, "too-large");
});

test("positions are 1-based line and column", () => {
  const root = parseFirstDocument("a:\n  b: [1, 2]\n");
  assert.equal(root.kind, "map");
  if (root.kind !== "map") return;
  const inner = root.pairs[0]![1];
  assert.deepEqual([inner.line, inner.column], [2, 3]);
});

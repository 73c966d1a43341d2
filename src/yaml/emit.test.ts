import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { parseDocument, isMap, isSeq, isScalar, type Node as YNode } from "yaml";
import { GoFloat, GoMap, GoTime, compareKeys, formatGoFloat, marshal, type YamlValue } from "./emit.js";
import { sharedPath } from "../../test/helpers/shared.js";

const list = (items: string[]) => marshal({ l: items }).split("\n").slice(1, -1).join("\n");
const item = (s: string) => marshal([s]).slice(2, -1);

test("empty struct, empty sequence, empty map", () => {
  assert.equal(marshal({ customization: {} }), "customization: {}\n");
  assert.equal(marshal({ a: [] }), "a: []\n");
  assert.equal(marshal({ a: new GoMap() }), "a: {}\n");
  assert.equal(marshal({}), "{}\n");
  assert.equal(marshal([]), "[]\n");
});

test("undefined struct fields are skipped, null is printed", () => {
  assert.equal(marshal({ a: undefined, b: null, c: 1 }), "b: null\nc: 1\n");
});

test("plain strings stay plain", () => {
  for (const s of [
    "net.ifnames=0",
    "console=ttyS0,115200n8",
    "-console",
    "?x",
    "=",
    "a:b",
    "x#y",
    "a b",
    "http://x.y/z",
  ]) {
    assert.equal(item(s), s, s);
  }
});

test("strings that would resolve to another type are double-quoted", () => {
  for (const s of [
    "true",
    "False",
    "~",
    "null",
    "NULL",
    "0",
    "00",
    "-0",
    "0.0",
    "1.5",
    "1e3",
    "+1",
    "0x1f",
    "0o17",
  ]) {
    assert.equal(item(s), `"${s}"`, s);
  }
  assert.equal(item(""), '""');
  assert.equal(item("1_000"), '"1_000"');
  assert.equal(item("2024-01-01"), '"2024-01-01"');
  assert.equal(item("2001-12-14t21:59:43.10-05:00"), '"2001-12-14t21:59:43.10-05:00"');
  assert.equal(item(".inf"), '".inf"');
  assert.equal(item(".5"), '".5"');
  // Go's ParseFloat rejects overflow, so this is a string for go-yaml.
  assert.equal(item("1e400"), "1e400");
  assert.equal(item("2024-02-30"), "2024-02-30");
});

test("YAML 1.1 booleans, sexagesimal numbers and the merge key are single-quoted (v4)", () => {
  for (const s of ["yes", "Yes", "YES", "no", "on", "ON", "off", "y", "Y", "n", "N"])
    assert.equal(item(s), `'${s}'`);
  assert.equal(item("12:30"), "'12:30'");
  assert.equal(item("-1:20:30.5"), "'-1:20:30.5'");
  assert.equal(item("<<"), "'<<'");
});

test("indicators and spaces force single quotes", () => {
  for (const s of [
    "@x",
    "`x",
    "!x",
    "&x",
    "*x",
    "|x",
    ">x",
    "{x",
    "]x",
    ",x",
    "%",
    "#hash",
    "- x",
    "x #y",
    "x: y",
    " lead",
    "trail ",
    "---",
    "...",
  ]) {
    assert.equal(item(s), `'${s}'`, s);
  }
  assert.equal(item("'quoted'"), "'''quoted'''");
  assert.equal(item('{"externalIPs":["1.2.3.4"]}'), `'{"externalIPs":["1.2.3.4"]}'`);
});

test("special characters force double quotes with go-yaml escapes", () => {
  assert.equal(item("tab\tval"), '"tab\\tval"');
  assert.equal(item("x\r\ny"), '"x\\r\\ny"');
  assert.equal(item("emoji=😀"), '"emoji=\\U0001F600"');
  assert.equal(item("\u0085"), '"\\N"');
  assert.equal(item("a\u0007b\u001bc"), '"a\\ab\\ec"');
  assert.equal(item("\u0001"), '"\\x01"');
  assert.equal(item("\ufffe"), '"\\uFFFE"');
  // A leading BOM makes libyaml escape every character.
  assert.equal(item("\ufeffbom"), '"\\uFEFF\\x62\\x6F\\x6D"');
  // Non-breaking space and other BMP characters are printed as is.
  assert.equal(item("a\u00a0b"), "a\u00a0b");
  assert.equal(item("Ünïcödé=ü"), "Ünïcödé=ü");
});

test("multi-line strings become literal blocks with chomping and indentation hints", () => {
  assert.equal(list(["foo\nbar"]), "    - |-\n      foo\n      bar");
  assert.equal(list(["foo\n"]), "    - |\n      foo");
  assert.equal(list(["foo\n\n"]), "    - |+\n      foo\n");
  assert.equal(list([" lead\nx"]), "    - |4-\n       lead\n      x");
  assert.equal(list(["\nstarts"]), "    - |-\n\n      starts");
  // Single newline, trailing space before a break, and whitespace-only values are double-quoted.
  assert.equal(list(["\n"]), '    - "\\n"');
  assert.equal(list(["a \nb\n"]), '    - "a \\nb\\n"');
  assert.equal(list([" \n "]), '    - " \\n "');
  assert.equal(marshal({ k: "a\nb" }, { indent: 2 }), "k: |-\n  a\n  b\n");
  assert.equal(marshal({ k: " a\nb" }, { indent: 2 }), "k: |2-\n   a\n  b\n");
});

test("a mapping inside a sequence item continues two columns after the dash", () => {
  const out = marshal({
    customization: {
      meta: [
        { key: 10, value: "line1\nline2\n" },
        { key: 11, value: "x" },
      ],
    },
  });
  assert.equal(
    out,
    "customization:\n    meta:\n        - key: 10\n          value: |\n            line1\n            line2\n        - key: 11\n          value: x\n",
  );
  assert.equal(marshal([["a", "b"], [], {}, { k: ["x"] }]), "- - a\n  - b\n- []\n- {}\n- k:\n    - x\n");
});

test("indent 2 (the imager's encoder)", () => {
  assert.equal(
    marshal({ a: { b: [1, 2], c: { d: true } } }, { indent: 2 }),
    "a:\n  b:\n    - 1\n    - 2\n  c:\n    d: true\n",
  );
});

test("map keys use go-yaml's natural order", () => {
  const sorted = (keys: string[]) => [...keys].sort(compareKeys);
  assert.deepEqual(sorted(["b", "a", "10", "2", "A", "_"]), ["_", "2", "10", "A", "a", "b"]);
  assert.deepEqual(sorted(["a1", "a10", "a2", "b", "B", "1a"]), ["1a", "B", "a1", "a2", "a10", "b"]);
  assert.deepEqual(sorted(["b10", "b2", "a", "A"]), ["A", "a", "b2", "b10"]);
  // Numbers before strings, numerically; bools count as 0/1 but sort before ints on ties.
  assert.deepEqual([true, "x", 2, 1, null, new GoFloat(1.5)].sort(compareKeys), [
    true,
    1,
    new GoFloat(1.5),
    2,
    null,
    "x",
  ]);
  assert.equal(
    marshal(
      new GoMap([
        ["b", 1],
        ["a", 2],
        ["n", 3],
      ]),
    ),
    "a: 2\nb: 1\n'n': 3\n",
  );
});

test("long or multi-line keys are complex keys", () => {
  const long = "k".repeat(129);
  assert.equal(marshal({ [long]: 1 }), `? ${long}\n: 1\n`);
  assert.equal(marshal({ ["k".repeat(128)]: 1 }), `${"k".repeat(128)}: 1\n`);
  assert.equal(marshal(new GoMap([["a\nb", 1]])), "? |-\n    a\n    b\n: 1\n");
});

test("floats are printed like strconv.FormatFloat(f, 'g', -1, 64)", () => {
  const cases: Array<[number, string]> = [
    [1.5, "1.5"],
    [1e6, "1e+06"],
    [1000000.5, "1.0000005e+06"],
    [123456, "123456"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1e21, "1e+21"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [5e-324, "5e-324"],
    [-2.5, "-2.5"],
    [-0, "-0"],
    [1, "1"],
    [Infinity, ".inf"],
    [-Infinity, "-.inf"],
    [NaN, ".nan"],
  ];
  for (const [f, s] of cases) assert.equal(formatGoFloat(f), s, String(f));
  assert.equal(marshal({ f: new GoFloat(1) }), "f: 1\n");
  assert.equal(marshal({ f: 1.25 }), "f: 1.25\n");
  assert.equal(marshal({ u: 10n ** 19n }), "u: 10000000000000000000\n");
  assert.equal(marshal({ t: new GoTime("2001-12-14T00:00:00Z") }), "t: 2001-12-14T00:00:00Z\n");
});

test("root scalars", () => {
  assert.equal(marshal("a"), "a\n");
  assert.equal(marshal("a\nb"), "|-\n    a\n    b\n");
  assert.equal(marshal(null), "null\n");
});

test("line folding at the encoder width", () => {
  const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(" ");
  const out = marshal({ k: words }, { indent: 2, lineWidth: 80 });
  assert.ok(out.split("\n").length > 2);
  assert.equal(marshal({ k: words }), `k: ${words}\n`);
});

// --- the imager goldens: plain YAML → the same bytes with indent 2 --------------------------

function toValue(n: YNode | null): YamlValue {
  if (n === null) return null;
  if (isMap(n)) {
    const o: Record<string, YamlValue> = {};
    for (const p of n.items) o[String((p.key as { value: unknown }).value)] = toValue(p.value as YNode);
    return o;
  }
  if (isSeq(n)) return n.items.map((x) => toValue(x as YNode));
  if (isScalar(n)) return n.value as YamlValue;
  throw new Error("unexpected node");
}

test("imager profile goldens print byte for byte with indent 2", () => {
  const dir = sharedPath("vectors", "profiles");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length > 100);
  for (const f of files) {
    const text = readFileSync(`${dir}/${f}`, "utf8");
    const value = toValue(parseDocument(text).contents);
    assert.equal(marshal(value, { indent: 2, lineWidth: 80 }), text, f);
    assert.equal(marshal(value, { indent: 2 }), text, f);
  }
});

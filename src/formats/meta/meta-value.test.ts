import { test } from "node:test";
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { readVectors } from "../../../test/helpers/shared.js";
import { isBootforgeError } from "../../errors/index.js";
import {
  decodeMetaValues,
  encodeMetaValues,
  formatMetaValue,
  MetaKeys,
  metaEnvironmentValue,
  MetaValueList,
  parseMetaKey,
  parseMetaValue,
  type MetaValue,
} from "./meta-value.js";

interface MetaVectors {
  valueParse: { input: string; expectedKey: number; expectedValue: string; expectedString: string }[];
  encodeValues: {
    vectors: {
      test: string;
      values?: MetaValue[];
      valuesText?: string[];
      valuesGenerator?: { key: number; value: { repeat: string; times: number } }[];
      allowGzip: boolean;
      expectedEncodedLength: number | null;
      derivedEncoded?: string;
      derivedRaw?: string;
    }[];
  };
  installerMetaValues: {
    operations: string[];
    expectedString: string;
    derivedRaw: string;
    derivedEncoded: string;
  }[];
  factoryCmdline: { schematicMeta: MetaValue[]; raw: string; expectedKernelArg: string }[];
  metaKeys: { keys: Record<string, string> };
}

const vectors = readVectors<MetaVectors>("meta.json");
const invalid = (e: unknown) => isBootforgeError(e, "invalid-input");

test("value parse and String (TestValue)", () => {
  for (const v of vectors.valueParse) {
    const parsed = parseMetaValue(v.input);
    assert.deepEqual(parsed, { key: v.expectedKey, value: v.expectedValue });
    assert.equal(formatMetaValue(parsed), v.expectedString);
    assert.deepEqual(parseMetaValue(formatMetaValue(parsed)), parsed);
  }
});

test("keys parse as strconv.ParseUint(s, 0, 8)", () => {
  for (const s of ["10", "0xa", "0XA", "0o12", "0O12", "012", "0b1010", "0B1010", "1_0", "0x_a", "0_12"]) {
    assert.equal(parseMetaKey(s), 10, s);
  }
  assert.equal(parseMetaKey("0"), 0);
  assert.equal(parseMetaKey("255"), 255);
  assert.equal(parseMetaKey("0xff"), 255);
  for (const s of [
    "",
    "256",
    "0x100",
    "-1",
    "+1",
    "0x",
    "0b",
    "08",
    "1__0",
    "_1",
    "1_",
    "0b2",
    "a",
    " 1",
    "1e1",
  ]) {
    assert.equal(parseMetaKey(s), undefined, s);
  }
  assert.deepEqual(parseMetaValue("0x11=dual-boot=yes"), { key: 0x11, value: "dual-boot=yes" });
  assert.deepEqual(parseMetaValue("12="), { key: 12, value: "" });
  assert.throws(() => parseMetaValue("novalue"), invalid);
  assert.throws(
    () => parseMetaValue("300=x"),
    (e) => invalid(e) && /invalid META key "300"/.test((e as Error).message),
  );
});

function valuesOf(v: MetaVectors["encodeValues"]["vectors"][number]): MetaValue[] {
  if (v.valuesGenerator)
    return v.valuesGenerator.map((g) => ({ key: g.key, value: g.value.repeat.repeat(g.value.times) }));
  return v.values ?? [];
}

test("Values.Encode / DecodeValues (TestEncodeDecodeValues)", async (t) => {
  for (const v of vectors.encodeValues.vectors) {
    await t.test(`${v.test} allowGzip=${v.allowGzip}`, () => {
      const values = valuesOf(v);
      if (v.valuesText) assert.deepEqual(v.valuesText.map(parseMetaValue), values);
      const encoded = encodeMetaValues(values, v.allowGzip);
      if (v.derivedEncoded !== undefined && !v.allowGzip) assert.equal(encoded, v.derivedEncoded);
      const gzipped = Buffer.from(encoded, "base64")[0] === 0x1f;
      if (v.expectedEncodedLength !== null && !gzipped) assert.equal(encoded.length, v.expectedEncodedLength);
      assert.deepEqual(decodeMetaValues(encoded), values);
    });
    if (v.expectedEncodedLength !== null && v.allowGzip && valuesOf(v).length > 0) {
      const encoded = encodeMetaValues(valuesOf(v), true);
      if (Buffer.from(encoded, "base64")[0] === 0x1f) {
        // Upstream asserts the length of Go's compress/gzip output; ours is Go's bytes exactly.
        await t.test(`${v.test} allowGzip=true: encoded length equals Go's`, () =>
          assert.equal(encoded.length, v.expectedEncodedLength),
        );
      }
    }
  }
});

test("gzip encoding above 256 bytes has Go's header and round-trips", () => {
  const values = [
    { key: 10, value: "foobar".repeat(256) },
    { key: 11, value: "baz".repeat(256) },
  ];
  const gz = Buffer.from(encodeMetaValues(values, true), "base64");
  // Go compress/gzip: magic, deflate, no flags, mtime 0, XFL 2 (best compression), OS 255.
  assert.deepEqual([...gz.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
  assert.equal(gunzipSync(gz).toString(), `0xa=${"foobar".repeat(256)};0xb=${"baz".repeat(256)}`);
  // The exact bytes Go 1.19's gzip.NewWriterLevel(BestCompression) writes (flate unchanged to 1.26).
  assert.equal(
    encodeMetaValues(values, true),
    "H4sIAAAAAAAC/zKoSLRNy89PSiwaJUfJUXKUHCVHGmltUJFkm5RYNYpG0YhFgAAAAP//YXrxKgkJAAA=",
  );
  // Exactly 256 raw bytes stays plain.
  const edge = [{ key: 10, value: "y".repeat(256 - 4) }];
  assert.equal(Buffer.from(encodeMetaValues(edge, true), "base64").length, 256);
  assert.deepEqual(decodeMetaValues(encodeMetaValues(edge, true)), edge);
});

test("decode rejects what Go rejects, with typed errors", () => {
  assert.deepEqual(decodeMetaValues(""), []);
  assert.deepEqual(decodeMetaValues("MHhh\r\nPWZvbw=="), [{ key: 10, value: "foo" }]);
  for (const bad of ["MHhhPWZvbw", "MHhh PWZvbw==", "MHhhPWZvbw=", "!!!!", "MHhhPWZvbw==="]) {
    assert.throws(() => decodeMetaValues(bad), invalid, bad);
  }
  // Decodes, but "foo" has no "=".
  assert.throws(() => decodeMetaValues(Buffer.from("0xa=1;foo").toString("base64")), invalid);
  // gzip magic followed by garbage.
  assert.throws(
    () => decodeMetaValues(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]).toString("base64")),
    invalid,
  );
  assert.throws(() => encodeMetaValues([{ key: 256, value: "x" }], false), invalid);
});

test("installer --meta value list (TestMetaValues)", () => {
  for (const v of vectors.installerMetaValues) {
    const list = new MetaValueList([{ key: 0x11, value: "default" }]);
    for (const op of v.operations) {
      const m = /^(Set|Append)\("(.*)"\)$/.exec(op);
      assert.ok(m, op);
      if (m[1] === "Set") list.set(m[2]!);
      else list.append(m[2]!);
    }
    assert.equal(list.toString(), v.expectedString);
    assert.equal(list.encode(), v.derivedEncoded);
    assert.equal(Buffer.from(list.encode(), "base64").toString(), v.derivedRaw);
    assert.equal(new MetaValueList().decode(list.encode()).toString(), v.expectedString);
  }
  const list = new MetaValueList([{ key: 1, value: "d" }]).set("2=a").set("3=b");
  assert.equal(list.toString(), "[0x2=a,0x3=b]");
  assert.equal(list.replace(["0x10=t"]).toString(), "[0x10=t]");
  // Never gzip, however long.
  assert.equal(Buffer.from(new MetaValueList().set(`1=${"z".repeat(400)}`).encode(), "base64")[0], 0x30);
});

test("factory INSTALLER_META_BASE64 argument", () => {
  for (const v of vectors.factoryCmdline) {
    assert.equal(v.schematicMeta.map(formatMetaValue).join(";"), v.raw);
    assert.equal(`talos.environment=${metaEnvironmentValue(v.schematicMeta, true)}`, v.expectedKernelArg);
  }
});

test("well-known keys match upstream constants", () => {
  const names = Object.fromEntries(Object.entries(MetaKeys).map(([name, key]) => [String(key), name]));
  assert.deepEqual(names, vectors.metaKeys.keys);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { gunzipSync, inflateRawSync } from "node:zlib";
import { isBootforgeError } from "../../errors/index.js";
import { goDeflate, goGzip } from "./index.js";
import { buildInput, type InputSpec } from "./test-fixtures.js";

interface GoGzipVectors {
  vectors: {
    name: string;
    input: InputSpec;
    inputLength: number;
    inputSha256: string;
    results: { level: number; gzipLength: number; gzipBase64?: string; gzipSha256?: string }[];
  }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("./testdata/go-gzip-vectors.json", import.meta.url), "utf8"),
) as GoGzipVectors;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

test("gzip output is byte-identical to Go's compress/gzip", async (t) => {
  for (const v of vectors.vectors) {
    await t.test(v.name, () => {
      const input = buildInput(v.input);
      assert.equal(input.length, v.inputLength);
      assert.equal(sha256(input), v.inputSha256);
      for (const r of v.results) {
        const gz = goGzip(input, r.level);
        const label = `${v.name} level ${r.level}`;
        assert.equal(gz.length, r.gzipLength, label);
        if (r.gzipBase64 !== undefined) assert.equal(Buffer.from(gz).toString("base64"), r.gzipBase64, label);
        if (r.gzipSha256 !== undefined) assert.equal(sha256(gz), r.gzipSha256, label);
        assert.deepEqual(gunzipSync(gz), Buffer.from(input), label);
      }
    });
  }
});

test("raw DEFLATE is the gzip body and ends with Go's empty final stored block", () => {
  const input = new TextEncoder().encode("0xa=" + "foobar".repeat(256));
  const raw = goDeflate(input, 9);
  assert.deepEqual(goGzip(input, 9).subarray(10, -8), raw);
  assert.deepEqual([...raw.subarray(-4)], [0x00, 0x00, 0xff, 0xff]);
  assert.deepEqual(inflateRawSync(raw), Buffer.from(input));
  assert.deepEqual([...goDeflate(new Uint8Array(0), 6)], [0x01, 0x00, 0x00, 0xff, 0xff]);
});

test("gzip header: mtime 0, XFL by level, OS 255", () => {
  const head = (level: number) => [...goGzip(new Uint8Array(0), level).subarray(0, 10)];
  assert.deepEqual(head(9), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
  assert.deepEqual(head(-1), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  assert.deepEqual(head(0), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
});

test("levels outside Go's range are rejected", () => {
  for (const level of [-3, 10, 2.5, Number.NaN]) {
    assert.throws(
      () => goDeflate(new Uint8Array(1), level),
      (e) => isBootforgeError(e, "invalid-input"),
    );
  }
  assert.equal(goGzip(new Uint8Array(0), 1)[8], 4, "XFL 4 at BestSpeed");
});

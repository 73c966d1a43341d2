import assert from "node:assert/strict";
import { test } from "node:test";
import { parseGoIntLiteral } from "./resolve.js";

test("parseGoIntLiteral reads integers as Go's strconv does with base 0", () => {
  assert.equal(parseGoIntLiteral("0x0a", false), 10n);
  assert.equal(parseGoIntLiteral("0o17", false), 15n);
  assert.equal(parseGoIntLiteral("017", false), 15n);
  assert.equal(parseGoIntLiteral("0b1_0", false), 2n);
  assert.equal(parseGoIntLiteral("-1_000", true), -1000n);
  assert.equal(parseGoIntLiteral("-1", false), undefined);
  assert.equal(parseGoIntLiteral("1__0", false), undefined);
  assert.equal(parseGoIntLiteral("_1", false), undefined);
  assert.equal(parseGoIntLiteral("0x", false), undefined);
  assert.equal(parseGoIntLiteral("09", false), undefined);
});

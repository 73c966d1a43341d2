import { test } from "node:test";
import assert from "node:assert/strict";
import { BootforgeError, exitCodeOf, invalidInput, isBootforgeError, unsupported } from "./index.js";

test("kinds map to upstream imager exit codes", () => {
  assert.equal(invalidInput("x").exitCode, 2);
  assert.equal(unsupported("x").exitCode, 3);
  assert.equal(new BootforgeError("environment", "x").exitCode, 4);
  assert.equal(new BootforgeError("dependency", "x").exitCode, 5);
  assert.equal(new BootforgeError("io", "x").exitCode, 6);
  assert.equal(exitCodeOf(new Error("boom")), 1);
});

test("kinds map to HTTP statuses", () => {
  assert.equal(invalidInput("x").httpStatus, 400);
  assert.equal(new BootforgeError("not-found", "x").httpStatus, 404);
  assert.equal(new BootforgeError("too-large", "x").httpStatus, 413);
});

test("details are kept and the guard narrows by kind", () => {
  const e = invalidInput("bad key", { path: "customization.meta[0].key", line: 3, column: 9 });
  assert.equal(e.path, "customization.meta[0].key");
  assert.equal(e.line, 3);
  assert.ok(isBootforgeError(e, "invalid-input"));
  assert.ok(!isBootforgeError(e, "io"));
  assert.ok(!isBootforgeError(new Error("x")));
});

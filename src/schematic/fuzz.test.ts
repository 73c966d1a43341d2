import { test } from "node:test";
import assert from "node:assert/strict";
import { readVectors } from "../../test/helpers/shared.js";
import { fuzzSchematic, summarize } from "./testing/fuzz.js";

const { vectors } = readVectors<{ vectors: Array<{ in: string }> }>("schematics.json");

test("fuzz: 3 000 random and mutated inputs only ever fail with BootforgeError, quickly", () => {
  const report = fuzzSchematic(
    3000,
    20240601,
    vectors.map((v) => v.in),
  );
  assert.deepEqual(report.failures, [], summarize(report));
  assert.equal(report.inputs, 3000);
  assert.ok(report.accepted > 100, summarize(report));
  assert.ok(report.rejected > 100, summarize(report));
  // CPU time, so that a busy machine does not fail the test; wall time is reported.
  assert.ok(report.cpuMs < 20_000, summarize(report));
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { formatLine, jsonLogger } from "./logger.js";

test("a line is exactly JSON.stringify of {time, level, msg, ...fields}", () => {
  const time = "2026-11-26T02:03:04.005Z";
  const shapes: Record<string, unknown>[] = [
    {},
    {
      requestId: "5a2ccec2-b7b9-4a0a-aadf-16bc9110b223",
      method: "POST",
      path: "/schematics",
      status: 201,
      durationMs: 0,
    },
    { path: '/a"b\\c\n\u2028\u0001', n: -0.5, big: 1e21, nan: NaN, inf: -Infinity },
    { nested: { a: [1, "x", null, undefined, () => 1] }, when: new Date(0), skipped: undefined, fn: () => 1 },
    { 'odd key"': 1, ünicode: "ü", sym: Symbol("s") },
    { z: -0, tiny: 1e-7, t: true, f: false, edges: " !#[]~", empty: "", del: "\u007f", big: 2n ** 3n > 0n },
    { quote: 'a"', backslash: "a\\", tab: "a\tb", latin: "é", lone: "\ud800" },
    // Keys the spread places elsewhere: the general path gives JSON.stringify's own order.
    { level: "overridden", extra: 1 },
    { msg: "replaced", time: "also" },
    { 2: "two", 1: "one", a: "a" },
  ];
  for (const fields of shapes) {
    assert.equal(
      formatLine(time, "warn", 'some "message"\n', fields),
      JSON.stringify({ time, level: "warn", msg: 'some "message"\n', ...fields }),
    );
  }
  // Inherited properties are not fields (as with the spread).
  const inherited = Object.create({ ghost: 1 }) as Record<string, unknown>;
  inherited.own = 2;
  assert.equal(
    formatLine(time, "info", "m", inherited),
    JSON.stringify({ time, level: "info", msg: "m", ...inherited }),
  );
});

test("the logger writes one parseable line per call at or above its level", () => {
  const lines: string[] = [];
  const log = jsonLogger((l) => lines.push(l), "info");
  log.log("debug", "hidden");
  log.log("info", "shown", { a: 1 });
  log.log("error", "bad", { b: "x" });
  assert.equal(lines.length, 2);
  for (const l of lines) assert.ok(l.endsWith("}\n"));
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(first!.msg, "shown");
  assert.equal(second!.level, "error");
  assert.ok(Math.abs(Date.parse(first!.time as string) - Date.now()) < 5000);
});

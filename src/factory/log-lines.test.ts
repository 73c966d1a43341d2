import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { batchedLines } from "./log-lines.js";

test("lines are written together, in order, within the delay", async () => {
  const writes: string[] = [];
  const out = batchedLines((t) => writes.push(t.toString()), 1024, 30);
  const t = performance.now();
  out("a\n");
  out("b\n");
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writes, [], "nothing is written at once");
  while (writes.length === 0 && performance.now() - t < 5000) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(writes, ["a\nb\n"]);
  assert.ok(performance.now() - t >= 25, "not before the delay");
  out("c\n");
  while (writes.length === 1 && performance.now() - t < 5000) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(writes, ["a\nb\n", "c\n"]);
});

test("a batch never passes the limit: a line that does not fit starts the next one", () => {
  const writes: string[] = [];
  const out = batchedLines((t) => writes.push(t.toString()), 16, 60_000);
  out("123456\n");
  out("7890ab\n");
  assert.deepEqual(writes, [], "14 bytes fit in 16");
  out("cdefgh\n");
  assert.deepEqual(writes, ["123456\n7890ab\n"]);
  // Multi-byte text is measured in bytes: "é" is two (7 + 11 > 16).
  out("ééééé\n");
  assert.deepEqual(writes, ["123456\n7890ab\n", "cdefgh\n"]);
  // A line longer than the limit is written on its own, after what was pending.
  out("a line longer than sixteen bytes\n");
  assert.deepEqual(writes, ["123456\n7890ab\n", "cdefgh\n", "ééééé\n", "a line longer than sixteen bytes\n"]);
});

test("every line arrives intact, in order, across many batches", () => {
  const chunks: Buffer[] = [];
  const out = batchedLines((t) => chunks.push(t), 100, 60_000);
  const lines = Array.from({ length: 500 }, (_, i) => `${"ü€x".repeat(i % 17)}${i}\n`);
  for (const l of lines) out(l);
  process.emit("exit", 0);
  assert.ok(chunks.every((c) => c.length <= 100));
  assert.equal(Buffer.concat(chunks).toString(), lines.join(""));
});

test("pending lines are written when the process exits", () => {
  const script =
    `import { batchedLines } from "./src/factory/log-lines.ts";` +
    `const out = batchedLines((t) => process.stdout.write(t));` +
    `out("first\\n"); out("last\\n"); process.exit(0);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "first\nlast\n");
});

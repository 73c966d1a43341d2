import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { batchedLines } from "./log-lines.js";

test("lines are written together, in order, within the delay", async () => {
  const writes: string[] = [];
  const out = batchedLines((t) => writes.push(t), 1024, 30);
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

test("gathering more than the limit writes at once", () => {
  const writes: string[] = [];
  const out = batchedLines((t) => writes.push(t), 10);
  out("123456\n");
  out("7890ab\n");
  assert.deepEqual(writes, ["123456\n7890ab\n"]);
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

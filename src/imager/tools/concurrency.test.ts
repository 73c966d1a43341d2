import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isBootforgeError } from "../../errors/index.js";
import { toolSlot, toolsLimited } from "./concurrency.js";
import { resetToolCache } from "./registry.js";
import { run } from "./run.js";

async function withLimit<T>(value: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.BOOTFORGE_TOOL_CONCURRENCY;
  if (value === undefined) delete process.env.BOOTFORGE_TOOL_CONCURRENCY;
  else process.env.BOOTFORGE_TOOL_CONCURRENCY = value;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.BOOTFORGE_TOOL_CONCURRENCY;
    else process.env.BOOTFORGE_TOOL_CONCURRENCY = saved;
  }
}

test("toolsLimited follows the variable", async () => {
  await withLimit(undefined, () => Promise.resolve(assert.equal(toolsLimited(), false)));
  await withLimit("", () => Promise.resolve(assert.equal(toolsLimited(), false)));
  await withLimit("1", () => Promise.resolve(assert.equal(toolsLimited(), true)));
  await withLimit("8", () => Promise.resolve(assert.equal(toolsLimited(), true)));
});

test("without a limit every slot is free at once", async () => {
  await withLimit(undefined, async () => {
    const slots = await Promise.all([toolSlot(), toolSlot(), toolSlot()]);
    for (const release of slots) release();
  });
});

test("a limit of 2 lets two run and queues the rest in order", async () => {
  await withLimit("2", async () => {
    const order: number[] = [];
    const a = await toolSlot();
    const b = await toolSlot();
    const c = toolSlot().then((r) => (order.push(3), r));
    const d = toolSlot().then((r) => (order.push(4), r));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, []);
    a();
    a(); // a second release of the same slot changes nothing
    const rc = await c;
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(order, [3]);
    b();
    const rd = await d;
    assert.deepEqual(order, [3, 4]);
    rc();
    rd();
    // All slots are back: two more start at once.
    const [e, f] = await Promise.all([toolSlot(), toolSlot()]);
    e();
    f();
  });
});

/** Runs three slow stand-in `zstd`s at once; returns their [start, end] intervals (ns). */
async function threeRuns(): Promise<[number, number][]> {
  const dir = await mkdtemp(join(tmpdir(), "tool-slots-"));
  const log = join(dir, "log");
  await writeFile(
    join(dir, "zstd"),
    `#!/bin/sh\ns=$(date +%s%N); sleep 0.2; echo "$s $(date +%s%N)" >> ${log}\n`,
    { mode: 0o755 },
  );
  const saved = process.env.PATH;
  process.env.PATH = `${dir}:${saved ?? ""}`;
  resetToolCache();
  try {
    await Promise.all([1, 2, 3].map(() => run("zstd", [])));
    return (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((l) => l.split(" ").map(Number) as [number, number]);
  } finally {
    process.env.PATH = saved;
    resetToolCache();
    await rm(dir, { recursive: true, force: true });
  }
}

const overlaps = (runs: [number, number][]): boolean =>
  runs.some(([s, e], i) => runs.some(([s2], j) => i !== j && s2 > s && s2 < e));

test("with a limit of 1 tool runs do not overlap; without one they do", async () => {
  assert.equal(overlaps(await withLimit("1", threeRuns)), false);
  assert.equal(overlaps(await withLimit(undefined, threeRuns)), true);
});

test("a malformed limit is refused with a clear message", async () => {
  for (const bad of ["0", "-1", "two", "1.5"]) {
    await withLimit(bad, async () => {
      await assert.rejects(
        toolSlot(),
        (e: unknown) => isBootforgeError(e, "invalid-input") && /BOOTFORGE_TOOL_CONCURRENCY/.test(e.message),
      );
    });
  }
});

import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isBootforgeError } from "../../errors/index.js";
import { runSequence } from "./sequence.js";

test("runSequence runs every step in order with arguments passed verbatim", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-seq-"));
  try {
    // Quotes, spaces and `$` must reach the program unchanged (no shell expansion).
    const name = join(dir, "it's a $HOME file");
    await writeFile(name, "x");
    await runSequence([
      { tool: "xz", args: ["-0", "-k", name] },
      { tool: "xz", args: ["-d", "-c", `${name}.xz`] },
      { tool: "chmod", args: ["600", `${name}.xz`] },
    ]);
    assert.equal((await readFile(`${name}.xz`)).subarray(0, 6).toString("latin1"), "\xfd7zXZ\0");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("runSequence stops at the first failing step and names it with its stderr", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-seq-"));
  try {
    const later = join(dir, "later");
    await writeFile(later, "y");
    await assert.rejects(
      runSequence(
        [
          { tool: "xz", args: ["--robot", "--version"] },
          { tool: "xz", args: ["--no-such-flag"] },
          { tool: "xz", args: ["-0", later] },
        ],
        { errorKind: "internal" },
      ),
      (e: unknown) =>
        isBootforgeError(e, "internal") &&
        /^xz \(arguments: --no-such-flag\) exited with status 1: .*no-such-flag/s.test(e.message) &&
        !e.message.includes("bootforge-step-failed"),
    );
    // The step after the failure did not run: the file is still uncompressed.
    assert.equal(await readFile(later, "utf8"), "y");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("runSequence passes its environment to every step", async () => {
  // xz reads extra options from XZ_OPT: an invalid one makes the step fail.
  await assert.rejects(
    runSequence([{ tool: "xz", args: ["--robot", "--version"] }], { env: { XZ_OPT: "--no-such-opt" } }),
    (e: unknown) => isBootforgeError(e, "io") && /xz .*exited with status/.test(e.message),
  );
  await runSequence([{ tool: "xz", args: ["--robot", "--version"] }], { env: { XZ_OPT: "-0" } });
});

/** Processes whose command line contains `marker`. */
async function running(marker: string): Promise<number> {
  let n = 0;
  for (const pid of (await readdir("/proc")).filter((p) => /^\d+$/.test(p))) {
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(marker) && !cmd.includes("/bin/sh")) n++;
  }
  return n;
}

test(
  "runSequence kills the running step (not just the shell) on abort and on timeout",
  { timeout: 20_000 },
  async () => {
    const start = Date.now();
    for (const how of ["abort", "timeout"] as const) {
      // An endless step (xz compressing /dev/zero to /dev/null), tagged to find it in /proc.
      const marker = `--suffix=.bootforge-seq-${process.pid}-${how}`;
      const ac = new AbortController();
      if (how === "abort") setTimeout(() => ac.abort(), 100);
      const pending = runSequence([{ tool: "xz", args: ["-9e", "-c", "-T1", marker, "/dev/zero"] }], {
        signal: ac.signal,
        ...(how === "timeout" ? { timeoutMs: 100 } : {}),
      });
      await assert.rejects(
        pending,
        (e: unknown) => isBootforgeError(e) && (how === "abort" ? /was aborted/ : /timeout/).test(e.message),
      );
      let left = await running(marker);
      for (let i = 0; i < 20 && left > 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        left = await running(marker);
      }
      assert.equal(left, 0, `xz still running after ${how}`);
    }
    assert.ok(Date.now() - start < 10_000);
  },
);

test("a step's own environment reaches that step only", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-seq-"));
  try {
    const file = join(dir, "data");
    await writeFile(file, "z".repeat(1000));
    await assert.rejects(
      runSequence([
        { tool: "xz", args: ["--robot", "--version"] },
        { tool: "xz", args: ["-k", file], env: { XZ_OPT: "--no-such-opt" } },
      ]),
      (e: unknown) => isBootforgeError(e, "io") && /^xz \(arguments: -k /.test(e.message),
    );
    // Set for the first step alone: the second does not see it (and succeeds).
    await runSequence([
      { tool: "xz", args: ["--robot", "--version"], env: { XZ_OPT: "-0 'quoted value'" } },
      { tool: "xz", args: ["-0", "-k", file] },
    ]).catch(() => assert.fail("the first step's variable leaked"));
    await assert.rejects(
      runSequence([{ tool: "xz", args: ["--version"], env: { "BAD NAME": "x" } }]),
      /invalid environment variable name/,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a gated sequence runs its first steps at once and the rest, in the same shell, once the gate opens", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-seq-"));
  try {
    const first = join(dir, "first");
    const second = join(dir, "second");
    await writeFile(first, "a".repeat(100));
    await writeFile(second, "b".repeat(100));
    for (let round = 0; round < 3; round++) {
      // Reused gates (the FIFO pool) behave the same every time.
      let open!: () => void;
      const ready = new Promise<void>((resolve) => (open = resolve));
      const run = runSequence(
        [
          { tool: "xz", args: ["-0", "-k", "-f", first] },
          { tool: "xz", args: ["-0", "-k", "-f", second] },
        ],
        { gate: { before: 1, ready } },
      );
      // The step before the gate runs; the one after waits for it.
      for (let i = 0; i < 100 && !(await exists(`${first}.xz`)); i++) await sleep(20);
      assert.ok(await exists(`${first}.xz`), "the first step ran before the gate opened");
      await sleep(200);
      assert.equal(await exists(`${second}.xz`), false, "the second step waits for the gate");
      open();
      await run;
      assert.ok(await exists(`${second}.xz`));
      await rm(`${first}.xz`);
      await rm(`${second}.xz`);
    }

    // A sequence that fails before its gate, whose gate opens afterwards: the next sequence's
    // gate (the FIFO may be reused) is still shut until its own input is ready.
    await assert.rejects(
      runSequence(
        [
          { tool: "xz", args: ["--no-such-flag"] },
          { tool: "xz", args: ["-0", "-k", "-f", second] },
        ],
        { gate: { before: 1, ready: sleep(100) } },
      ),
      /no-such-flag/,
    );
    await sleep(200);
    let openLater!: () => void;
    const later = runSequence(
      [
        { tool: "xz", args: ["--robot", "--version"] },
        { tool: "xz", args: ["-0", "-k", "-f", second] },
      ],
      { gate: { before: 1, ready: new Promise<void>((resolve) => (openLater = resolve)) } },
    );
    await sleep(300);
    assert.equal(await exists(`${second}.xz`), false, "a line left by the failed sequence did not open it");
    openLater();
    await later;
    assert.ok(await exists(`${second}.xz`));
    await rm(`${second}.xz`);

    // A gate that stays shut stops the shell; its reason is the error, and nothing after it ran.
    const t0 = Date.now();
    await assert.rejects(
      runSequence(
        [
          { tool: "xz", args: ["-0", "-k", "-f", first] },
          { tool: "xz", args: ["-0", "-k", "-f", second] },
        ],
        { gate: { before: 1, ready: sleep(100).then(() => Promise.reject(new Error("input failed"))) } },
      ),
      /input failed/,
    );
    assert.ok(Date.now() - t0 < 5000, "stopped, not left waiting");
    assert.equal(await exists(`${second}.xz`), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

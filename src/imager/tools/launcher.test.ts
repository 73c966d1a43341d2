import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { exitOfStatus, launcher, type LaunchSpec } from "./launcher.js";
import { runLaunched } from "./run.js";

async function scratch(): Promise<string> {
  return mkdtemp(join(tmpdir(), "launcher-test-"));
}

/** Runs `spec` through the launcher and returns its stdout text and exit. */
async function launchText(spec: Omit<LaunchSpec, "stdoutFile" | "stderrFile">, dir: string) {
  const stdoutFile = join(dir, `out-${Math.random()}`);
  const stderrFile = join(dir, `err-${Math.random()}`);
  const { code, signal, wroteStdout, wroteStderr } = await launcher().launch({
    ...spec,
    stdoutFile,
    stderrFile,
  }).exit;
  return {
    exit: { code, signal },
    wrote: { stdout: wroteStdout, stderr: wroteStderr },
    stdout: await readFile(stdoutFile, "utf8").catch(() => ""),
    stderr: await readFile(stderrFile, "utf8").catch(() => ""),
  };
}

test("a launched program gets exactly the arguments spawn would give it", async () => {
  const dir = await scratch();
  try {
    const args = [
      "plain",
      "",
      "it's",
      'dou"ble',
      "new\nline",
      "$HOME",
      "`id`",
      "back\\slash",
      "-n",
      "*",
      "ü",
    ];
    const { stdout, exit } = await launchText(
      { path: "/usr/bin/printf", args: ["[%s]\n", ...args], env: process.env },
      dir,
    );
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.equal(stdout, args.map((a) => `[${a}]\n`).join(""));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a launched program gets exactly the environment and working directory spawn would give it", async () => {
  const dir = await scratch();
  try {
    const cases: NodeJS.ProcessEnv[] = [
      process.env,
      { ...process.env, EXTRA: 'it\'s "quoted"\nand $expanded?', SOURCE_DATE_EPOCH: "1700000000" },
      Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "PATH" && k !== "HOME")),
      { PATH: "/usr/bin:/bin" },
      // A name no POSIX shell can export: the launcher falls back to `env -i`.
      { ...process.env, "odd-name.x": "1" },
    ];
    for (const env of cases) {
      for (const cwd of [undefined, dir]) {
        const expected = spawnSync("/usr/bin/env", ["-0"], {
          env,
          ...(cwd ? { cwd } : {}),
        }).stdout.toString();
        const { stdout } = await launchText(
          { path: "/usr/bin/env", args: ["-0"], env, ...(cwd ? { cwd } : {}) },
          dir,
        );
        const sorted = (s: string) => s.split("\0").sort().join("\n");
        assert.equal(sorted(stdout), sorted(expected), `env ${Object.keys(env).length} names, cwd ${cwd}`);
      }
      const pwd = await launchText({ path: "/bin/pwd", args: ["-P"], env, cwd: dir }, dir);
      assert.equal(pwd.stdout.trim(), dir);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("exit codes and signals are reported as spawn reports them", async () => {
  const dir = await scratch();
  try {
    const code = await launchText(
      { path: "/bin/sh", args: ["-c", "echo oops >&2; exit 3"], env: process.env },
      dir,
    );
    assert.deepEqual(code.exit, { code: 3, signal: null });
    assert.equal(code.stderr, "oops\n");
    const sig = await launchText({ path: "/bin/sh", args: ["-c", "kill -SEGV $$"], env: process.env }, dir);
    assert.deepEqual(sig.exit, { code: null, signal: "SIGSEGV" });
    assert.deepEqual(exitOfStatus(255), { code: 255, signal: null });
    const missing = await launchText(
      { path: "/bin/true", args: [], env: process.env, cwd: join(dir, "nope") },
      dir,
    );
    assert.equal(missing.exit.code, 126);
    assert.match(missing.stderr, /nope/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("stdin comes from the given file, never from the launcher's own pipe", async () => {
  const dir = await scratch();
  try {
    const r = await runLaunched("/bin/cat", [], { stdin: "fed through a file\n" });
    assert.equal(r.failure, undefined);
    assert.equal(r.stdout.toString(), "fed through a file\n");
    // Without stdin the program reads /dev/null (an empty input), and does not hang.
    const empty = await runLaunched("/bin/cat", [], {});
    assert.equal(empty.stdout.length, 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("many programs at once each get their own output and status", async () => {
  const runs = await Promise.all(
    Array.from({ length: 24 }, (_, i) => runLaunched("/bin/sh", ["-c", `echo ${i}; exit ${i % 4}`], {})),
  );
  runs.forEach((r, i) => {
    assert.equal(r.stdout.toString(), `${i}\n`);
    assert.equal(r.status?.code, i % 4);
  });
});

test("timeout and abort kill the program; a new process group takes its children along", async () => {
  const timed = await runLaunched("/bin/sleep", ["30"], { timeoutMs: 100 });
  assert.equal(timed.stopped, "timeout");
  assert.match(timed.failure ?? "", /killed by SIGKILL/);

  const dir = await scratch();
  try {
    const pids = join(dir, "pids");
    const ac = new AbortController();
    const pending = runLaunched("/bin/sh", ["-c", `sleep 30 & echo $! > ${pids}; sleep 30`], {
      signal: ac.signal,
      newGroup: true,
    });
    for (let i = 0; i < 100; i++) {
      if ((await readFile(pids, "utf8").catch(() => "")).trim() !== "") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const t = performance.now();
    ac.abort();
    const r = await pending;
    assert.equal(r.stopped, "aborted");
    assert.ok(performance.now() - t < 5000);
    const child = Number((await readFile(pids, "utf8")).trim());
    // Gone, or a zombie waiting for whoever reaps orphans here.
    let state = "";
    for (let i = 0; i < 50; i++) {
      state = (await readFile(`/proc/${child}/stat`, "utf8").catch(() => "")).replace(/^.*\) /s, "")[0] ?? "";
      if (state === "" || state === "Z") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(state === "" || state === "Z", `the group's background child is gone too (state ${state})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a dead launcher fails its running programs and is replaced for the next", async () => {
  const pending = runLaunched("/bin/sleep", ["30"], {});
  await new Promise((r) => setTimeout(r, 100));
  const shellPid = launcher().pid!;
  process.kill(shellPid, "SIGKILL");
  const r = await pending;
  assert.match(r.failure ?? "", /could not be started: the tool launcher shell exited/);
  const next = await runLaunched("/bin/echo", ["again"], {});
  assert.equal(next.stdout.toString(), "again\n");
  assert.notEqual(launcher().pid, shellPid);
});

test("a SIGKILLed Node takes its programs along, process groups and their children included", async () => {
  const dir = await scratch();
  try {
    // A Node process starts a plain program and a process group with a background child, writes
    // their PIDs, and is SIGKILLed: nothing it started may keep running (and writing) afterwards.
    const script =
      `import { runLaunched } from "./src/imager/tools/run.ts";` +
      `void runLaunched("/bin/sh", ["-c", "echo $$ > ${dir}/plain; exec sleep 60"], {});` +
      `void runLaunched("/bin/sh", ["-c", "sleep 60 & echo $! > ${dir}/grouped; wait"], { newGroup: true });` +
      `setInterval(() => undefined, 1000);`;
    const node = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: "ignore",
    });
    const exited = new Promise((r) => node.once("exit", r));
    const pidOf = async (name: string) =>
      Number((await readFile(join(dir, name), "utf8").catch(() => "")).trim());
    let pids: number[] = [];
    for (let i = 0; i < 500 && pids.length < 2; i++) {
      pids = (await Promise.all([pidOf("plain"), pidOf("grouped")])).filter((p) => p > 0);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(pids.length, 2, "both programs started");
    node.kill("SIGKILL");
    await exited;
    const alive = async () => {
      const out: number[] = [];
      for (const pid of pids) {
        const state = (await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "")).replace(/^.*\) /s, "")[0];
        // Gone, or a zombie waiting for whoever reaps orphans here.
        if (state !== undefined && state !== "Z") out.push(pid);
      }
      return out;
    };
    let left = await alive();
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      left = await alive();
    }
    assert.deepEqual(left, [], "programs still running after their Node process was killed");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("an idle launcher does not keep the process alive", () => {
  const script =
    `import { run } from "./src/imager/tools/run.ts";` +
    `const r = await run("xz", ["--robot", "--version"]); console.log(r.stdout.toString().trim().split("\\n")[0]);`;
  const t = performance.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^XZ_VERSION=/);
  assert.ok(performance.now() - t < 30_000);
});

test("finished programs leave no zombies behind (a long-running factory would run out of PIDs)", async () => {
  for (let i = 0; i < 60; i++) await runLaunched("/bin/true", [], {});
  await Promise.all(Array.from({ length: 20 }, () => runLaunched("/bin/true", [], {})));
  const shell = launcher().pid!;
  let left: string[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    left = [];
    for (const entry of await readdir("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = (await readFile(`/proc/${entry}/stat`, "utf8").catch(() => ""))
        .replace(/^.*\) /s, "")
        .split(" ");
      if (Number(fields[1]) === shell) left.push(`${entry} ${fields[0]}`);
    }
    if (left.length === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.deepEqual(left, [], "children of the launcher shell");
});

test("without a usable temp directory programs are spawned directly, and still run", () => {
  // Set after the imports: the TypeScript loader keeps its own cache in the temp directory.
  const script =
    `import { run } from "./src/imager/tools/run.ts";` +
    `import { launcherEnabled } from "./src/imager/tools/launcher.ts";` +
    `process.env.TMPDIR = "/dev/null/bootforge-launcher-test";` +
    `const r = await run("xz", ["--robot", "--version"]);` +
    `console.log(launcherEnabled(), r.stdout.toString().split("\\n")[0]);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^false XZ_VERSION=/);
});

test("the exit report says which output files got bytes; started resolves before exit", async () => {
  const dir = await scratch();
  try {
    const quiet = await launchText({ path: "/bin/true", args: [], env: process.env }, dir);
    assert.deepEqual(quiet.wrote, { stdout: false, stderr: false });
    const both = await launchText(
      { path: "/bin/sh", args: ["-c", "echo out; echo err >&2; exit 2"], env: process.env },
      dir,
    );
    assert.deepEqual(both.exit, { code: 2, signal: null });
    assert.deepEqual(both.wrote, { stdout: true, stderr: true });
    assert.equal(both.stdout, "out\n");
    assert.equal(both.stderr, "err\n");
    const errOnly = await launchText(
      { path: "/bin/sh", args: ["-c", "echo err >&2"], env: process.env },
      dir,
    );
    assert.deepEqual(errOnly.wrote, { stdout: false, stderr: true });
    // A working directory that cannot be entered: the shell's message is on stderr.
    const noDir = await launchText(
      { path: "/bin/true", args: [], env: process.env, cwd: join(dir, "nope") },
      dir,
    );
    assert.deepEqual(noDir.wrote, { stdout: false, stderr: true });

    const order: string[] = [];
    const job = launcher().launch({
      path: "/bin/sleep",
      args: ["0.2"],
      env: process.env,
      stderrFile: join(dir, "sleep.err"),
    });
    await Promise.all([
      job.started.then(() => order.push("started")),
      job.exit.then(() => order.push("exit")),
    ]);
    assert.deepEqual(order, ["started", "exit"]);

    // run() tells its caller once the program runs (used to start work beside the last tool).
    let startedAt = 0;
    const t0 = Date.now();
    await runLaunched("/bin/sleep", ["0.3"], { onStart: () => (startedAt = Date.now()) });
    assert.ok(startedAt > 0 && startedAt - t0 < 250, "onStart called while the program ran");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

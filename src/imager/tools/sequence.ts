/**
 * Runs several external programs one after another from one `/bin/sh` process. Each start of a
 * program from Node forks the whole Node process (`ChildProcess.spawn` is synchronous: 2–20 ms of
 * the event loop per run under load); a small shell forks cheaply. The programs, their arguments
 * and their order are exactly those of one `run()` each, so what they write is the same.
 */
import { spawn } from "node:child_process";
import { BootforgeError, type ErrorKind } from "../../errors/index.js";
import { toolSlot } from "./concurrency.js";
import { launcherEnabled, shellQuote as quote, type LaunchExit } from "./launcher.js";
import { openGate } from "./gate.js";
import { requireTool, type ToolName } from "./registry.js";
import { childEnv, DEFAULT_TIMEOUT_MS, runLaunched, STDERR_LIMIT, stderrTail } from "./run.js";

/** One program run of a sequence. */
export interface SequenceStep {
  tool: ToolName;
  args: readonly string[];
  /** Variables for this step alone (the shell itself and the other steps do not see them). */
  env?: Readonly<Record<string, string>>;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SequenceOptions {
  /** Extra environment variables for every step, merged over the parent's. */
  env?: Record<string, string>;
  /** Kill the whole sequence after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Error kind when a step fails (default `io`). */
  errorKind?: ErrorKind;
  /** Called once the sequence's shell has started. */
  onStart?: () => void;
  /**
   * Steps from index `before` (0 to the last step's) on wait (in the shell, see `gate.ts`) until
   * `ready` resolves; if it rejects, the sequence is stopped and rejects with its reason.
   */
  gate?: { before: number; ready: Promise<void> };
}

// Exit status the script uses for "a step failed"; the step and its own status go to stderr.
const MARK = "bootforge-step-failed";

/**
 * The shell script: each step in order, stopping at the first failure and naming it on stderr;
 * with `gate`, a line is read from that FIFO before step `gate.before`.
 */
export function sequenceScript(
  steps: readonly SequenceStep[],
  gate?: { before: number; fifo: string },
): string {
  return steps
    .map((s, i) => {
      const wait = gate?.before === i ? `read _ < ${quote(gate.fifo)} || exit 1\n` : "";
      // Assignments in front of a command reach that command only (POSIX), with no extra process.
      const assignments = Object.entries(s.env ?? {}).map(([k, v]) => {
        if (!ENV_NAME.test(k)) throw new BootforgeError("internal", `invalid environment variable name ${k}`);
        return `${k}=${quote(v)} `;
      });
      return (
        `${wait}${assignments.join("")}${[requireTool(s.tool), ...s.args].map(quote).join(" ")} </dev/null || ` +
        `{ s=$?; echo "${MARK} ${i} $s" >&2; exit 1; }`
      );
    })
    .join("\n");
}

/** Runs `steps` in order; rejects with a BootforgeError naming the failed step and its stderr. */
export async function runSequence(
  steps: readonly SequenceStep[],
  options: SequenceOptions = {},
): Promise<void> {
  const { gate: gated, ...rest } = options;
  if (gated !== undefined && gated.before >= steps.length)
    throw new BootforgeError("internal", `sequence gate before step ${gated.before} of ${steps.length}`);
  if (gated === undefined || gated.before <= 0) {
    // Nothing runs before the gate: wait here, no shell needed meanwhile.
    await gated?.ready;
    return runGated(steps, rest, undefined);
  }
  const gate = await openGate(gated.ready);
  let passed = false;
  try {
    await runGated(steps, rest, { before: gated.before, fifo: gate.path, ready: gated.ready });
    // Every step ran, so the shell read the gate's line.
    passed = true;
  } finally {
    await gate.close(passed);
  }
}

async function runGated(
  steps: readonly SequenceStep[],
  options: Omit<SequenceOptions, "gate">,
  gate: { before: number; fifo: string; ready: Promise<void> } | undefined,
): Promise<void> {
  if (steps.length === 0) return;
  // A gate that stays shut (its input failed) stops the shell waiting on it; that failure is
  // the one reported.
  let shut: { reason: unknown } | undefined;
  const stop = new AbortController();
  gate?.ready.catch((reason: unknown) => {
    shut = { reason };
    stop.abort(reason);
  });
  if (gate !== undefined)
    options = {
      ...options,
      signal: options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal,
    };
  try {
    await runScript(steps, options, sequenceScript(steps, gate));
  } catch (e) {
    if (shut !== undefined) throw shut.reason;
    throw e;
  }
  if (shut !== undefined) throw shut.reason;
}

async function runScript(
  steps: readonly SequenceStep[],
  options: Omit<SequenceOptions, "gate">,
  script: string,
): Promise<void> {
  const describe = (i: number): string => `${steps[i]!.tool} (arguments: ${steps[i]!.args.join(" ")})`;
  const fail = (what: string, stderr: string, cause?: unknown): BootforgeError => {
    const tail = stderrTail(
      stderr
        .split("\n")
        .filter((l) => !l.startsWith(MARK))
        .join("\n"),
    );
    return new BootforgeError(
      options.errorKind ?? "io",
      `${what}${tail ? `: ${tail}` : ""}`,
      cause === undefined ? {} : { cause },
    );
  };
  if (options.signal?.aborted) throw fail(`${describe(0)} was aborted`, "", options.signal.reason);

  const release = await toolSlot();
  let ran: SequenceRun;
  try {
    ran = launcherEnabled() ? await viaLauncher(script, options) : await viaSpawn(script, options);
  } finally {
    release();
  }
  const { stderr, status, stopped } = ran;
  const failed = new RegExp(`^${MARK} (\\d+) (\\d+)$`, "m").exec(stderr);
  const step = failed ? Number(failed[1]) : 0;
  if (stopped !== undefined) {
    throw fail(
      `${describe(step)} ${stopped}`,
      stderr,
      options.signal?.aborted ? options.signal.reason : undefined,
    );
  }
  if (failed) throw fail(`${describe(step)} exited with status ${failed[2]}`, stderr);
  if (status === undefined) throw fail(`/bin/sh could not be started for ${describe(0)}`, stderr);
  if (status.code !== 0) {
    throw fail(`${describe(step)} sequence shell exited with ${status.code ?? status.signal}`, stderr);
  }
}

interface SequenceRun {
  stderr: string;
  status: LaunchExit | undefined;
  /** "was aborted" or "was killed (timeout)" when the sequence was stopped. */
  stopped: string | undefined;
}

/** The script from the launcher shell, in its own process group. */
async function viaLauncher(script: string, options: SequenceOptions): Promise<SequenceRun> {
  const r = await runLaunched("/bin/sh", ["-c", script], { ...options, newGroup: true });
  const stopped =
    r.stopped === "aborted" ? "was aborted" : r.stopped === "timeout" ? "was killed (timeout)" : undefined;
  return { stderr: r.stderr, status: r.status, stopped };
}

/** The script from Node directly. */
async function viaSpawn(script: string, options: SequenceOptions): Promise<SequenceRun> {
  // Its own process group, so a timeout or abort kills the running step too, not just the shell.
  const child = spawn("/bin/sh", ["-c", script], {
    env: childEnv(options),
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  if (child.pid !== undefined) options.onStart?.();
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk;
  });
  let stopped: string | undefined;
  const kill = (why: string): void => {
    stopped ??= why;
    try {
      if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  const onAbort = (): void => kill("was aborted");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const timer = setTimeout(() => kill("was killed (timeout)"), options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const status = await new Promise<LaunchExit>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
    return { stderr, status, stopped };
  } catch {
    return { stderr, status: undefined, stopped };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

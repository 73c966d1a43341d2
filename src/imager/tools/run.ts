/**
 * Runs external programs without shell parsing: arguments as an array, stderr captured for the
 * error message, a timeout and an AbortSignal that kill the child, and typed BootforgeErrors on
 * failure. Programs whose stdio are files (or nothing) start through the launcher shell
 * (`launcher.ts`: no fork of the Node process); streamed stdin or stdout need Node's own pipes.
 */
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { open, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError, type ErrorKind } from "../../errors/index.js";
import { toolSlot } from "./concurrency.js";
import { launcher, launcherEnabled, type LaunchEnd, type LaunchExit } from "./launcher.js";
import { requireTool, type ToolName } from "./registry.js";

export interface RunOptions {
  /** Working directory of the child. */
  cwd?: string;
  /** Extra environment variables, merged over the parent's. */
  env?: Record<string, string>;
  /**
   * Variables removed from the child's environment: mksquashfs refuses `-all-time` while
   * SOURCE_DATE_EPOCH is set, and the imager process itself may well have it set.
   */
  unsetEnv?: readonly string[];
  /** Data for the child's stdin; stdin is closed (empty) when omitted. */
  stdin?: string | Uint8Array | Readable;
  /** Where stdout goes: captured (default) or streamed into this Writable (which is ended). */
  stdout?: Writable;
  /** Or: stdout written straight to this file (created or truncated, mode 0666 & ~umask). */
  stdoutFile?: string;
  /** Kill the child after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Error kind when the program fails (default `io`). */
  errorKind?: ErrorKind;
  /** Called once the program has started (a moment that work waiting for it to run can use). */
  onStart?: () => void;
  /**
   * Run at a lower CPU priority (`nice -n 10`): work that runs beside the build's critical path
   * and must not slow it down on a machine with few cores.
   */
  background?: boolean;
}

export interface RunResult {
  /** Captured stdout (empty when it was streamed elsewhere). */
  stdout: Buffer;
  stderr: string;
}

const NICE = "/usr/bin/nice";

/** Default limit of one tool run (and of a `runSequence`). */
export const DEFAULT_TIMEOUT_MS = 10 * 60 * 1000;
/** Enough stderr to explain a failure without letting a chatty tool grow memory without bound. */
export const STDERR_LIMIT = 64 * 1024;

/** Runs `tool args…` to completion; rejects with a BootforgeError carrying its stderr on failure. */
export async function run(
  tool: ToolName,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const path = requireTool(tool);
  const release = await toolSlot();
  try {
    if (options.background === true)
      return await runNow(tool, NICE, ["-n", "10", path, ...args], args, options);
    return await runNow(tool, path, args, args, options);
  } finally {
    release();
  }
}

/** Runs `path argv…`; errors name `tool` and quote `args` (what the caller asked for). */
async function runNow(
  tool: ToolName,
  path: string,
  argv: readonly string[],
  args: readonly string[],
  options: RunOptions,
): Promise<RunResult> {
  const { stdin, stdout: toStream, ...rest } = options;
  if (launcherEnabled() && toStream === undefined && !isStream(stdin)) {
    const r = await runLaunched(path, argv, { ...rest, ...(stdin !== undefined ? { stdin } : {}) });
    if (r.failure !== undefined) throw failure(tool, args, options, r.failure, r.stderr, r.cause);
    return { stdout: r.stdout, stderr: r.stderr };
  }
  const child = spawn(path, argv, {
    cwd: options.cwd,
    env: childEnv(options),
    stdio: ["pipe", "pipe", "pipe"],
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: "SIGKILL",
    signal: options.signal,
  });
  if (child.pid !== undefined) options.onStart?.();

  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk;
  });

  const chunks: Buffer[] = [];
  const io: Promise<unknown>[] = [];
  const stdout = options.stdout ?? (options.stdoutFile ? createWriteStream(options.stdoutFile) : undefined);
  if (stdout) {
    io.push(pipeline(child.stdout, stdout));
  } else {
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
  }
  if (options.stdin === undefined) {
    child.stdin.end();
  } else if (typeof options.stdin === "string" || options.stdin instanceof Uint8Array) {
    child.stdin.on("error", () => {
      // the child may exit without reading all input; its exit status tells what happened
    });
    child.stdin.end(options.stdin);
  } else {
    io.push(pipeline(options.stdin, child.stdin));
  }

  const exit = new Promise<LaunchExit>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });

  let status: LaunchExit;
  try {
    [status] = await Promise.all([exit, ...io.map((p) => p.catch((e: unknown) => e))]);
  } catch (e) {
    throw failure(tool, args, options, `could not be started: ${(e as Error).message}`, stderr, e);
  }
  const ioErrors = await Promise.all(io.map((p) => p.then(() => undefined).catch((e: unknown) => e)));
  if (options.signal?.aborted) {
    throw failure(tool, args, options, "was aborted", stderr, options.signal.reason);
  }
  if (status.code !== 0) throw failure(tool, args, options, describeExit(status), stderr);
  const ioError = ioErrors.find((e) => e !== undefined);
  if (ioError !== undefined) {
    throw failure(tool, args, options, `stream failed: ${(ioError as Error).message}`, stderr, ioError);
  }
  return { stdout: Buffer.concat(chunks), stderr };
}

function isStream(x: RunOptions["stdin"]): x is Readable {
  return x !== undefined && typeof x !== "string" && !(x instanceof Uint8Array);
}

/** "exited with status N" or "was killed by SIGNAL (timeout?)". */
export function describeExit(status: LaunchExit): string {
  return status.code === null
    ? `was killed by ${status.signal ?? "a signal"} (timeout?)`
    : `exited with status ${status.code}`;
}

/** What a launched program did: its output, and why it failed if it did. */
export interface LaunchedRun {
  stdout: Buffer;
  stderr: string;
  status: LaunchExit | undefined;
  /** The failure, worded as `run` words it (`exited with status 2`, `was aborted`, …). */
  failure: string | undefined;
  /** Set when the program was stopped by the AbortSignal or the timeout. */
  stopped?: "aborted" | "timeout";
  cause?: unknown;
}

let files = 0;

/**
 * Runs `path args…` through the launcher shell with stdin from `options.stdin` (kept in a file),
 * stdout captured or into `stdoutFile`, stderr kept up to STDERR_LIMIT; honours the timeout and
 * the AbortSignal. Never rejects: failures are described in the result.
 */
export async function runLaunched(
  path: string,
  args: readonly string[],
  options: Omit<RunOptions, "stdout" | "stdin"> & { stdin?: string | Uint8Array; newGroup?: boolean },
): Promise<LaunchedRun> {
  const l = launcher();
  const base = join(l.dir, `${++files}`);
  const stderrFile = `${base}.err`;
  const stdinFile = options.stdin === undefined ? undefined : `${base}.in`;
  const captured = options.stdoutFile === undefined ? `${base}.out` : undefined;
  const result: LaunchedRun = { stdout: Buffer.alloc(0), stderr: "", status: undefined, failure: undefined };
  if (options.signal?.aborted) {
    return { ...result, failure: "was aborted", stopped: "aborted", cause: options.signal.reason };
  }
  try {
    if (stdinFile !== undefined) await writeFile(stdinFile, options.stdin!);
    const job = l.launch({
      path,
      args,
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      env: childEnv(options),
      ...(stdinFile !== undefined ? { stdinFile } : {}),
      stdoutFile: options.stdoutFile ?? captured!,
      stderrFile,
      ...(options.newGroup ? { newGroup: true } : {}),
    });
    if (options.onStart) void job.started.then(options.onStart);
    let timedOut = false;
    const onAbort = (): void => job.kill();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // Aborted while the input file was written or the job queued: the event has already fired.
    if (options.signal?.aborted) job.kill();
    const timer = setTimeout(() => {
      timedOut = true;
      job.kill();
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let end: LaunchEnd;
    try {
      end = await job.exit;
    } catch (e) {
      return { ...result, failure: `could not be started: ${(e as Error).message}`, cause: e };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
    result.status = { code: end.code, signal: end.signal };
    // Most programs write nothing to either: no file to open and read then.
    if (end.wroteStderr) result.stderr = await readHead(stderrFile, STDERR_LIMIT);
    if (captured !== undefined && end.wroteStdout) result.stdout = await readHead(captured, Infinity, null);
    if (options.signal?.aborted)
      return { ...result, failure: "was aborted", stopped: "aborted", cause: options.signal.reason };
    if (timedOut) return { ...result, failure: "was killed by SIGKILL (timeout?)", stopped: "timeout" };
    if (result.status.code !== 0) return { ...result, failure: describeExit(result.status) };
    return result;
  } finally {
    // Removed without waiting: nothing reads them again, the names are never reused, and the
    // launcher's directory goes with the process.
    for (const f of [stderrFile, stdinFile, captured])
      if (f !== undefined) void rm(f, { force: true }).catch(() => undefined);
  }
}

/** The first `limit` bytes of a file (as text unless `encoding` is null); empty if missing. */
async function readHead(path: string, limit: number): Promise<string>;
async function readHead(path: string, limit: number, encoding: null): Promise<Buffer>;
async function readHead(path: string, limit: number, encoding?: null): Promise<string | Buffer> {
  const fh = await open(path, "r").catch(() => undefined);
  if (fh === undefined) return encoding === null ? Buffer.alloc(0) : "";
  try {
    const size = Math.min((await fh.stat()).size, limit);
    const buf = Buffer.alloc(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(buf, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return encoding === null ? buf.subarray(0, at) : buf.toString("utf8", 0, at);
  } finally {
    await fh.close();
  }
}

/** The child's environment: the parent's, with `env` merged over it and `unsetEnv` removed. */
export function childEnv(options: Pick<RunOptions, "env" | "unsetEnv">): NodeJS.ProcessEnv {
  if (!options.env && !options.unsetEnv) return process.env;
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const k of options.unsetEnv ?? []) delete env[k];
  return env;
}

function failure(
  tool: string,
  args: readonly string[],
  options: RunOptions,
  what: string,
  stderr: string,
  cause?: unknown,
): BootforgeError {
  const tail = stderrTail(stderr);
  const message = `${tool} ${what}${tail ? `: ${tail}` : ""} (arguments: ${args.join(" ")})`;
  return new BootforgeError(options.errorKind ?? "io", message, cause === undefined ? {} : { cause });
}

/** The last lines of a tool's stderr, as failure messages quote them. */
export function stderrTail(stderr: string): string {
  return stderr.trim().split("\n").slice(-20).join("\n");
}

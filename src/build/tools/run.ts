/**
 * Runs external programs without a shell: arguments as an array, stderr captured for the error
 * message, a timeout and an AbortSignal that kill the child, and typed BootforgeErrors on failure.
 */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError, type ErrorKind } from "../../errors/index.js";
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
  /** Kill the child after this many milliseconds (default 10 minutes). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Error kind when the program fails (default `io`). */
  errorKind?: ErrorKind;
}

export interface RunResult {
  /** Captured stdout (empty when it was streamed elsewhere). */
  stdout: Buffer;
  stderr: string;
}

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
  const child = spawn(path, args, {
    cwd: options.cwd,
    env: childEnv(options),
    stdio: ["pipe", "pipe", "pipe"],
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    killSignal: "SIGKILL",
    signal: options.signal,
  });

  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += chunk;
  });

  const chunks: Buffer[] = [];
  const io: Promise<unknown>[] = [];
  if (options.stdout) {
    io.push(pipeline(child.stdout, options.stdout));
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

  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal }));
  });

  let status: { code: number | null; signal: NodeJS.Signals | null };
  try {
    [status] = await Promise.all([exit, ...io.map((p) => p.catch((e: unknown) => e))]);
  } catch (e) {
    throw failure(tool, args, options, `could not be started: ${(e as Error).message}`, stderr, e);
  }
  const ioErrors = await Promise.all(io.map((p) => p.then(() => undefined).catch((e: unknown) => e)));
  if (options.signal?.aborted) {
    throw failure(tool, args, options, "was aborted", stderr, options.signal.reason);
  }
  if (status.code !== 0) {
    const how =
      status.code === null
        ? `was killed by ${status.signal ?? "a signal"} (timeout?)`
        : `exited with status ${status.code}`;
    throw failure(tool, args, options, how, stderr);
  }
  const ioError = ioErrors.find((e) => e !== undefined);
  if (ioError !== undefined) {
    throw failure(tool, args, options, `stream failed: ${(ioError as Error).message}`, stderr, ioError);
  }
  return { stdout: Buffer.concat(chunks), stderr };
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

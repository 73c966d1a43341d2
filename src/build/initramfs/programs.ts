/**
 * External programs the initramfs and ISO stages need beyond `build/tools`' registry (depmod,
 * grub-mkimage, mformat, mattrib), and a runner that can also remove variables from the child's
 * environment: mksquashfs refuses `-all-time` while SOURCE_DATE_EPOCH is set, and the imager
 * process itself may well have it set.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { BootforgeError, dependencyError, type ErrorKind } from "../../errors/index.js";
import { lookupTool, TOOL_PACKAGES, type ToolName } from "../tools/registry.js";

/** Programs not (yet) in `build/tools`' registry, with their Debian packages. */
export const EXTRA_PROGRAM_PACKAGES = {
  depmod: "kmod",
  "grub-mkimage": "grub-common",
  mformat: "mtools",
  mattrib: "mtools",
} as const;

/** Any program these stages run. */
export type ProgramName = ToolName | keyof typeof EXTRA_PROGRAM_PACKAGES;

const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];
const found = new Map<string, string | null>();

function packageOf(name: ProgramName): string {
  return name in EXTRA_PROGRAM_PACKAGES
    ? EXTRA_PROGRAM_PACKAGES[name as keyof typeof EXTRA_PROGRAM_PACKAGES]
    : TOOL_PACKAGES[name as ToolName];
}

/** Absolute path of `name`; a dependency error naming its Debian package when it is missing. */
export function requireProgram(name: ProgramName): string {
  if (name in TOOL_PACKAGES) {
    const p = lookupTool(name as ToolName);
    if (p !== undefined) return p;
  } else {
    if (!found.has(name)) {
      const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_DIRS];
      const hit = dirs
        .map((d) => join(d, name))
        .find((c) => {
          try {
            accessSync(c, constants.X_OK);
            return true;
          } catch {
            return false;
          }
        });
      found.set(name, hit ?? null);
    }
    const p = found.get(name);
    if (p) return p;
  }
  const pkg = packageOf(name);
  throw dependencyError(
    `required program "${name}" was not found in PATH; install the Debian package "${pkg}" (apt-get install ${pkg})`,
  );
}

export interface ProgramOptions {
  cwd?: string;
  /** Variables set for the child, over the parent's environment. */
  env?: Record<string, string>;
  /** Variables removed from the child's environment. */
  unsetEnv?: readonly string[];
  stdin?: string | Uint8Array;
  timeoutMs?: number;
  signal?: AbortSignal;
  errorKind?: ErrorKind;
}

// Enough stderr to explain a failure without letting a chatty tool grow memory.
const STDERR_LIMIT = 64 * 1024;
const STDOUT_LIMIT = 16 * 1024 * 1024;

/** Runs `name args…` without a shell; resolves with stdout (bounded) or rejects with a BootforgeError. */
export async function runProgram(
  name: ProgramName,
  args: readonly string[],
  options: ProgramOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const path = requireProgram(name);
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const k of options.unsetEnv ?? []) delete env[k];
  const child = spawn(path, args, {
    cwd: options.cwd,
    env,
    stdio: ["pipe", "pipe", "pipe"],
    timeout: options.timeoutMs ?? 10 * 60 * 1000,
    killSignal: "SIGKILL",
    signal: options.signal,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    if (stdout.length < STDOUT_LIMIT) stdout += c;
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => {
    if (stderr.length < STDERR_LIMIT) stderr += c;
  });
  child.stdin.on("error", () => {
    // the child may exit without reading its input; the exit status says what happened
  });
  child.stdin.end(options.stdin);
  const status = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code, signal) => resolve({ code, signal }));
    },
  ).catch((e: unknown) => {
    throw fail(name, args, options, `could not be started: ${(e as Error).message}`, stderr, e);
  });
  if (status.code !== 0) {
    const how =
      status.code === null
        ? `was killed by ${status.signal ?? "a signal"} (timeout?)`
        : `exited with status ${status.code}`;
    throw fail(name, args, options, how, stderr);
  }
  return { stdout, stderr };
}

function fail(
  name: string,
  args: readonly string[],
  options: ProgramOptions,
  what: string,
  stderr: string,
  cause?: unknown,
): BootforgeError {
  const tail = stderr.trim().split("\n").slice(-20).join("\n");
  return new BootforgeError(
    options.errorKind ?? "io",
    `${name} ${what}${tail ? `: ${tail}` : ""} (arguments: ${args.join(" ")})`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * The factory as its users start it: `bin/image-factory.js` (or `scripts/start.sh`) in a child
 * process, its stderr read until it says where it serves, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const REPO = join(import.meta.dirname, "..", "..");

/** A running factory process. */
export interface FactoryProcess {
  child: ChildProcess;
  /** The main listener's URL, as printed (`serving at …`). */
  url: string;
  /** The metrics listener's URL, when printed. */
  metricsUrl?: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** A port free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Runs `command args` until it prints `serving at <url>` (or exits, which rejects). */
export function startFactoryProcess(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 600_000,
): Promise<FactoryProcess> {
  const child = spawn(command, args, { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`factory did not start within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    const early = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`factory exited with ${code} before serving:\n${err}`));
    };
    child.once("exit", early);
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      const m = /serving at (\S+)/.exec(err);
      if (!m) return;
      clearTimeout(timer);
      child.off("exit", early);
      const metrics = /serving metrics at (\S+)\/metrics/.exec(err);
      resolve({
        child,
        url: m[1]!,
        ...(metrics ? { metricsUrl: metrics[1]! } : {}),
        stdout: () => out,
        stderr: () => err,
        stop: async () => {
          if (child.exitCode === null) child.kill("SIGTERM");
          return exited;
        },
      });
    });
  });
}

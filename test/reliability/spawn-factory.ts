/**
 * Starts `child-factory.ts` in its own process (optionally under `ulimit -f`, or behind a wrapper
 * command such as `bwrap … --size N --tmpfs <dir>`), waits for its `READY <url>` line, and gives
 * the test its URL, its PID, SIGKILL and a clean stop.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";

const REPO = join(import.meta.dirname, "..", "..");
const START_TIMEOUT_MS = 60_000;

/** Options of {@link spawnFactory}. */
export interface ChildOptions {
  storage: string;
  release: string;
  /** `imager`: the real imager pipeline; `slow-uki` (default): the benchmarks' stand-in. */
  pipeline?: "imager" | "slow-uki";
  /** SecureBoot keys directory (enables SecureBoot assets). */
  secureBootKeys?: string;
  /** Extra environment of the child (merged over this process's). */
  env?: Record<string, string>;
  /** A command the child runs under (e.g. `bwrap` and its arguments); exec's the rest. */
  wrap?: readonly string[];
  ukiMib?: number;
  chunkMs?: number;
  journal?: string;
  /** Where the child appends its JSON request log (as `image-factory serve` logs; default none). */
  log?: string;
  /** RLIMIT_FSIZE in KiB (`ulimit -f`): writes past it fail with EFBIG instead of filling a disk. */
  fileSizeKiB?: number;
  /** Extra Node options for the child (e.g. `--cpu-prof`). */
  nodeArgs?: string[];
  /** child-factory compiled to JavaScript (benchmarks): run it directly instead of through tsx. */
  compiled?: string;
}

/** A running child factory. */
export interface ChildFactory {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything the child wrote to stderr so far. */
  stderr(): string;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** Resident set size now, KiB (0 once gone). */
  rssKiB(): Promise<number>;
}

/** Spawns a child factory and waits until it listens. */
export async function spawnFactory(o: ChildOptions): Promise<ChildFactory> {
  const args = [
    ...(o.nodeArgs ?? []),
    ...(o.compiled === undefined
      ? ["--import", "tsx", join(REPO, "test", "reliability", "child-factory.ts")]
      : [o.compiled]),
    "--storage",
    o.storage,
    "--release",
    o.release,
    "--pipeline",
    o.pipeline ?? "slow-uki",
    ...(o.secureBootKeys ? ["--secureboot-keys", o.secureBootKeys] : []),
    "--uki-mib",
    String(o.ukiMib ?? 8),
    "--chunk-ms",
    String(o.chunkMs ?? 100),
    ...(o.journal ? ["--journal", o.journal] : []),
    ...(o.log ? ["--log", o.log] : []),
  ];
  // bash sets the limit and ignores SIGXFSZ (ignored dispositions survive exec), so an oversized
  // write returns EFBIG to Node instead of killing it: the rootless stand-in for a full disk.
  const opts = {
    cwd: REPO,
    stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...o.env },
  };
  const wrap = o.wrap ?? [];
  const child =
    o.fileSizeKiB === undefined
      ? spawn(
          wrap[0] ?? process.execPath,
          [...wrap.slice(1), ...(wrap.length > 0 ? [process.execPath] : []), ...args],
          opts,
        )
      : spawn(
          "bash",
          [
            "-c",
            `trap '' XFSZ; ulimit -f ${o.fileSizeKiB}; exec "$0" "$@"`,
            ...wrap,
            process.execPath,
            ...args,
          ],
          opts,
        );
  let err = "";
  child.stderr.on("data", (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child factory did not start in time: ${err}`));
    }, START_TIMEOUT_MS);
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`child factory exited (${code}) before listening: ${err}`));
    });
  });
  const pid = child.pid!;
  return {
    url,
    pid,
    child,
    stderr: () => err,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
    },
    rssKiB: async () => {
      const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
      return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    },
  };
}

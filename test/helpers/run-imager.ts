/** Runs the `imager` CLI (bin/imager.js) as a user would, against a release, for end-to-end tests. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./shared.js";

/** What a run printed and how it ended. */
export interface ImagerRun {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
  /**
   * Peak resident set size in KiB (`measureRss`): the largest of the imager process and the tools
   * it ran and waited for (GNU time's `%M`), so a tool blowing up memory counts too.
   */
  maxRssKiB?: number;
}

export interface ImagerRunOptions {
  /** `--release-source` (e.g. `oci-layout:<dir>`). */
  source: string;
  out: string;
  cacheDir: string;
  sourceDateEpoch: string;
  /** `--talos-version`; omitted when undefined (a stdin profile carries its own). */
  version?: string | undefined;
  /** A profile fed on stdin (the `-` profile argument). */
  stdin?: string | undefined;
  /** Flags placed after the common ones. */
  extra?: readonly string[];
  /** Runs under GNU time (Debian `time`) and reports `maxRssKiB`. */
  measureRss?: boolean;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Extra environment variables (e.g. `TMPDIR`, to prove nothing is written elsewhere). */
  env?: Readonly<Record<string, string>>;
  /** Kills the run with SIGKILL after this long (`code` is then null). */
  timeoutMs?: number;
}

/** Spawns `imager <args> [--talos-version] --release-source --cache-dir --output [extra]`. */
export async function runImager(args: readonly string[], o: ImagerRunOptions): Promise<ImagerRun> {
  if (!o.measureRss) return spawnImager(process.execPath, [], args, o);
  const dir = await mkdtemp(join(tmpdir(), "bootforge-rss-"));
  try {
    const file = join(dir, "rss");
    const run = await spawnImager("/usr/bin/time", ["-f", "%M", "-o", file, process.execPath], args, o);
    const kib = Number((await readFile(file, "utf8")).trim().split("\n").pop());
    if (!Number.isFinite(kib) || kib <= 0) throw new Error(`time reported no peak RSS: ${run.stderr}`);
    return { ...run, maxRssKiB: kib };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function spawnImager(
  command: string,
  prefix: readonly string[],
  args: readonly string[],
  o: ImagerRunOptions,
): Promise<ImagerRun> {
  const argv = [
    join(REPO_ROOT, "bin", "imager.js"),
    ...args,
    ...(o.version === undefined ? [] : ["--talos-version", o.version]),
    "--release-source",
    o.source,
    "--cache-dir",
    o.cacheDir,
    "--output",
    o.out,
    ...(o.extra ?? []),
  ];
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...argv], {
      cwd: o.cwd ?? REPO_ROOT,
      env: { ...process.env, SOURCE_DATE_EPOCH: o.sourceDateEpoch, NODE_NO_WARNINGS: "1", ...o.env },
      stdio: [o.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => stdout.push(c));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer =
      o.timeoutMs === undefined ? undefined : setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(stdout), stderr, ms: Date.now() - started });
    });
    if (o.stdin !== undefined) child.stdin?.end(o.stdin);
  });
}

/** The top-level (non-detail, non-YAML) console lines of a run. */
export const stageLines = (stderr: string): string[] =>
  stderr.split("\n").filter((l) => l !== "" && !l.startsWith(" "));

/** Asserts the run succeeded and printed `expected` among its stage lines, in this order. */
export function assertLines(r: ImagerRun, expected: readonly string[]): void {
  assert.equal(r.code, 0, r.stderr);
  const lines = stageLines(r.stderr);
  let at = -1;
  for (const l of expected) {
    const i = lines.indexOf(l, at + 1);
    assert.ok(i > at, `missing or out of order ${JSON.stringify(l)} in\n${r.stderr}`);
    at = i;
  }
}

/** Runs at most `n` tasks at once (end-to-end builds share two cores). */
export { limiter } from "../../src/imager/tools/limiter.js";

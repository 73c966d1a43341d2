/**
 * Shared pieces of the benchmarks: running a command while sampling its peak memory, timing,
 * the one-line result format, and the machine description RESULTS.md records.
 */
import { spawn, type SpawnOptions } from "node:child_process";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cpus, loadavg, totalmem } from "node:os";

/** The result line every benchmark prints: `<name>: ratio=<x> (<details>)`. */
export function report(name: string, ratio: number, details: string): void {
  console.log(`${name}: ratio=${ratio.toFixed(2)} (${details})`);
}

/** nproc, RAM, CPU model and load, for the record. */
export function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
  return `${cpus().length} CPUs (${cpu}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load ${load}`;
}

/** Peak RSS (VmHWM) of a live process, KiB; 0 once it is gone. */
export async function peakRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/** Current RSS (VmRSS) of a live process, KiB; 0 once it is gone. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0);
}

/** [user, system] CPU of `pid` so far, seconds (/proc/<pid>/stat fields 14 and 15; 0 once gone). */
export async function cpuSeconds(pid: number): Promise<[number, number]> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "") return [0, 0];
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime 15. USER_HZ is 100 on Linux.
  return [Number(fields[11]) / 100, Number(fields[12]) / 100];
}

/** What {@link measure} observed. */
export interface Measured {
  code: number | null;
  seconds: number;
  /** Highest VmHWM seen for the process itself (not its children), MiB. */
  peakMiB: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, sampling the process's own peak RSS every 50 ms. */
export function measure(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let peak = 0;
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setInterval(() => {
      if (child.pid !== undefined) void peakRssKiB(child.pid).then((k) => (peak = Math.max(peak, k)));
    }, 50);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(timer);
      resolve({ code, seconds: (performance.now() - t0) / 1000, peakMiB: peak / 1024, stdout, stderr });
    });
  });
}

/** Wall-clock seconds of `fn`. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, (performance.now() - t) / 1000];
}

/** Median of numbers. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

/** Prints (to stderr) the functions with the most self time in the CPU profiles in `dir`. */
export async function summarizeProfile(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith(".cpuprofile"))) {
    const prof = JSON.parse(await readFile(join(dir, name), "utf8")) as {
      nodes: {
        id: number;
        callFrame: { functionName: string; url: string; lineNumber: number };
        children?: number[];
      }[];
      samples: number[];
    };
    const byId = new Map(prof.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    for (const id of prof.samples) {
      const cf = byId.get(id)?.callFrame;
      const key = `${cf?.functionName || "(anonymous)"} ${(cf?.url ?? "").replace(/^.*node_modules\//, "")}:${cf?.lineNumber ?? 0}`;
      self.set(key, (self.get(key) ?? 0) + 1);
    }
    const total = prof.samples.length;
    console.error(`# CPU profile ${name} (${total} samples), top self time:`);
    for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20))
      console.error(`#   ${((100 * v) / total).toFixed(1)}%  ${k}`);
    // Inclusive time of Bootforge's own functions and of the HTTP adapter: where a request goes.
    const hits = new Map<number, number>();
    for (const id of prof.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
    const inclusive = new Map<string, number>();
    const visit = (id: number, seen: Set<string>): number => {
      const node = byId.get(id);
      if (!node) return 0;
      let n = hits.get(id) ?? 0;
      const cf = node.callFrame;
      const key = `${cf.functionName || "(anonymous)"} ${cf.url.replace(/^.*\/(src|node_modules)\//, "$1/")}:${cf.lineNumber}`;
      const mine = /\/src\/|@hono|hono\/dist|undici|webstreams/.test(cf.url) && !seen.has(key);
      const next = mine ? new Set(seen).add(key) : seen;
      for (const c of node.children ?? []) n += visit(c, next);
      if (mine) inclusive.set(key, (inclusive.get(key) ?? 0) + n);
      return n;
    };
    visit(prof.nodes[0]!.id, new Set());
    console.error(`#   top inclusive time (src/, hono, undici, web streams):`);
    for (const [k, v] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 25))
      console.error(`#   ${((100 * v) / total).toFixed(1)}%  ${k}`);
  }
}

/** Non-TypeScript folders of fixtures/ that compiled code needs (package.json `build` copies the same). */
const FIXTURE_ASSET_DIRS = ["init", "overlay", "keys"];

/**
 * Compiles `entry` (a .ts file of this repository) and everything it imports to plain
 * JavaScript with tsc, as `npm run build` does (no type check: the test suite does that), and
 * returns the compiled file. Benchmarks run long-lived processes from it, so the code measured
 * is what a built deployment runs, without tsx's run-time transform (its keep-names helper
 * alone costs a create request several microseconds).
 */
export async function compileForBench(entry: string): Promise<string> {
  const repo = join(import.meta.dirname, "..", "..");
  // Inside node_modules, so the compiled files resolve their packages from the repository's.
  const out = join(repo, "node_modules", ".cache", "bootforge-bench-js");
  await mkdir(out, { recursive: true });
  const config = join(out, "tsconfig.json");
  await writeFile(
    config,
    JSON.stringify({
      extends: join(repo, "tsconfig.json"),
      compilerOptions: {
        noEmit: false,
        noCheck: true,
        outDir: out,
        rootDir: repo,
        sourceMap: false,
        types: [],
      },
      files: [join(repo, entry)],
      include: [],
    }),
  );
  const code = await new Promise<number | null>((resolve, reject) => {
    const tsc = spawn(
      process.execPath,
      [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", config],
      {
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    tsc.on("error", reject);
    tsc.on("close", resolve);
  });
  if (code !== 0) throw new Error(`tsc failed compiling ${entry} for the benchmark`);
  // The files the fixture code reads beside itself, as `npm run build` copies them to dist/.
  for (const dir of FIXTURE_ASSET_DIRS)
    await cp(join(repo, "fixtures", dir), join(out, "fixtures", dir), { recursive: true });
  return join(out, entry.replace(/\.ts$/, ".js"));
}

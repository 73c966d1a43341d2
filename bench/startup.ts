/**
 * Bench: start-up of the CLIs. `imager --help` and `image-factory --help` from the compiled tree
 * (what `npm start`, the systemd unit and the container run), and from the TypeScript sources
 * through tsx (a checkout's default), against the baseline `node -e 0` (the runtime alone), each
 * measured in the same run as the median of interleaved runs. Target: compiled `imager --help`
 * ≤ 2× `node -e 0`. Needs `npm run build` first (done here when dist/ is missing).
 *
 *   node --import tsx bench/startup.ts   (BENCH_STARTUP_RUNS=15)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { machine, measure, median, report } from "./lib/common.js";

const REPO = join(import.meta.dirname, "..");
const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? 15);

if (!existsSync(join(REPO, "dist", ".built"))) {
  const b = spawnSync("npm", ["run", "--silent", "build"], { cwd: REPO, stdio: "inherit" });
  if (b.status !== 0) throw new Error("npm run build failed");
}

interface Case {
  name: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}
const cases: Case[] = [
  { name: "node -e 0", args: ["-e", "0"], env: process.env },
  ...(["imager", "image-factory"] as const).flatMap((bin) => [
    {
      name: `${bin} --help (compiled)`,
      args: [join(REPO, "bin", `${bin}.js`), "--help"],
      env: { ...process.env, BOOTFORGE_DIST: "1" },
    },
    {
      name: `${bin} --help (tsx)`,
      args: [join(REPO, "bin", `${bin}.js`), "--help"],
      env: { ...process.env, BOOTFORGE_DIST: "0" },
    },
  ]),
];

const seconds = new Map<string, number[]>(cases.map((c) => [c.name, []]));
// Interleaved, so drift in the machine's speed touches every case alike; one warm-up round.
for (let round = 0; round <= RUNS; round++) {
  for (const c of cases) {
    const m = await measure(process.execPath, c.args, { env: c.env });
    if (m.code !== 0) throw new Error(`${c.name} exited ${m.code}: ${m.stderr}`);
    if (round > 0) seconds.get(c.name)!.push(m.seconds);
  }
}
const ms = (name: string): number => median(seconds.get(name)!) * 1000;
const base = ms("node -e 0");
console.error(`# ${machine()}; median of ${RUNS} interleaved runs`);
for (const c of cases) console.error(`#   ${c.name}: ${ms(c.name).toFixed(0)} ms`);
report(
  "startup imager --help compiled / node -e 0",
  ms("imager --help (compiled)") / base,
  `target ≤ 2.00; ${ms("imager --help (compiled)").toFixed(0)} ms vs ${base.toFixed(0)} ms; tsx ${ms("imager --help (tsx)").toFixed(0)} ms; image-factory compiled ${ms("image-factory --help (compiled)").toFixed(0)} ms, tsx ${ms("image-factory --help (tsx)").toFixed(0)} ms`,
);

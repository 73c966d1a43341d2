/**
 * Runs the imager CLI's `main` inside one process, as the factory runs builds: compiled by
 * `compileForBench` and started once, then `main(argv)` per build, without process start-up or
 * module loading in the timed part. Each run gets its own output directory (`<output>-<n>`) and
 * tool log (`$BENCH_TOOL_LOG.<n>`); the wall-clock seconds of every run are written as JSON to
 * `$BENCH_RESULT` (with the sha256 of each run's output when `BENCH_DISCARD_OUTPUT=1`, which
 * removes each output once hashed). With `BENCH_ALTERNATE_SERIAL=1` every odd run has each tool run alone
 * (`BOOTFORGE_TOOL_CONCURRENCY=1`, read at each tool start), so a build and its floor are
 * measured next to each other, under the same machine load.
 *
 *   node imager-runner.js <runs> <imager argv…>   (argv with `--output <dir>`)
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { main } from "../../src/cli/imager.js";

const [runsArg, ...argv] = process.argv.slice(2);
const runs = Number(runsArg);
const at = argv.indexOf("--output");
const toolLog = process.env.BENCH_TOOL_LOG ?? "";
const result = process.env.BENCH_RESULT ?? "";
const seconds: number[] = [];
const sha256: string[] = [];
for (let n = 0; n < runs; n++) {
  const args = [...argv];
  if (at >= 0) args[at + 1] = `${argv[at + 1]}-${n}`;
  // Tools inherit process.env: one log per run, so each run has its own floor.
  process.env.BENCH_TOOL_LOG = `${toolLog}.${n}`;
  if (process.env.BENCH_ALTERNATE_SERIAL === "1")
    process.env.BOOTFORGE_TOOL_CONCURRENCY = n % 2 === 1 ? "1" : "";
  const t = performance.now();
  await main(args);
  seconds.push((performance.now() - t) / 1000);
  if (process.exitCode !== undefined && process.exitCode !== 0) break;
  if (at >= 0 && process.env.BENCH_DISCARD_OUTPUT === "1") {
    // Untimed: the output is hashed (the bench checks the runs agree) and removed, so tens of
    // megabytes per run do not pile up as dirty pages and slow later runs with writeback.
    const dir = args[at + 1]!;
    const sums: string[] = [];
    for (const name of (await readdir(dir)).sort()) {
      const hash = createHash("sha256");
      for await (const chunk of createReadStream(join(dir, name))) hash.update(chunk as Buffer);
      sums.push(`${name}=${hash.digest("hex")}`);
    }
    sha256.push(sums.join(","));
    await rm(dir, { recursive: true, force: true });
  }
}
await writeFile(result, JSON.stringify({ seconds, sha256 }));

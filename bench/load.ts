/**
 * Bench: the full load scenario of issue 10 (the reliability suite runs a 15 s version):
 * 200 concurrent downloads of a cached 8 MiB asset plus 10 schematic creations per second for
 * 60 s against a factory process on 127.0.0.1. Prints errors, throughput, create latency and
 * the server's RSS over time; ratio = peak RSS / 300 MiB.
 *
 *   node --import tsx bench/load.ts   (BENCH_LOAD_SECONDS=60)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EMPTY_ID, fixtureRelease } from "../test/factory/harness.js";
import { meanOf, percentile, runLoad } from "../test/reliability/load-run.js";
import { spawnFactory } from "../test/reliability/spawn-factory.js";
import { machine, report } from "./lib/common.js";

const SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 60);
const MIB = 8;
const work = await mkdtemp(join(tmpdir(), "bootforge-bench-load-"));
const f = await spawnFactory({ storage: work, release: await fixtureRelease(), ukiMib: MIB, chunkMs: 0 });
try {
  await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
  const assetPath = `/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`;
  await (await fetch(`${f.url}${assetPath}`)).arrayBuffer();
  const r = await runLoad({
    url: f.url,
    seconds: SECONDS,
    downloads: 200,
    assetPath,
    assetSize: MIB << 20,
    schematicsPerSecond: 10,
    rssKiB: () => f.rssKiB(),
  });
  const peak = Math.max(...r.rssMiB);
  report(
    "load-200-downloads",
    peak / 300,
    `${r.seconds.toFixed(0)} s: ${r.downloads} downloads (${(r.bytes / 2 ** 30 / r.seconds).toFixed(2)} GiB/s), ` +
      `${r.schematics} schematics created (p50 ${percentile(r.createMs, 50).toFixed(0)} ms, ` +
      `p99 ${percentile(r.createMs, 99).toFixed(0)} ms), ${r.errors.length} errors${r.errors.length ? `: ${r.errors[0]}` : ""}; ` +
      `server RSS by quarter ${[0, 0.25, 0.5, 0.75].map((q) => meanOf(r.rssMiB, q, q + 0.25).toFixed(0)).join("/")} MiB, ` +
      `peak ${peak.toFixed(0)} MiB; ratio = peak / 300 MiB`,
  );
  console.error(`# machine: ${machine()}`);
} finally {
  await f.kill();
  await rm(work, { recursive: true, force: true });
}

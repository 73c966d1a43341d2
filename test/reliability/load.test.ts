/**
 * Load, in-suite variant (15 s; the 60 s run is `bench/load.ts`): 200 concurrent downloads of a
 * cached 8 MiB asset plus 10 schematic creations per second against a factory process on
 * 127.0.0.1 — no errors, every schematic ID right, and flat, bounded server memory.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { EMPTY_ID, fixtureRelease } from "../factory/harness.js";
import { meanOf, percentile, runLoad } from "./load-run.js";
import { spawnFactory, type ChildFactory } from "./spawn-factory.js";

const MIB = 8;
let work = "";
let f: ChildFactory | undefined;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "bootforge-load-"));
  f = await spawnFactory({ storage: work, release: await fixtureRelease(), ukiMib: MIB, chunkMs: 0 });
});
after(async () => {
  await f?.kill();
  if (work) await rm(work, { recursive: true, force: true });
});

it("200 concurrent downloads + 10 schematics/s for 15 s: no errors, flat memory under 300 MiB", async () => {
  const url = f!.url;
  await fetch(`${url}/schematics`, { method: "POST", body: "{}" });
  const assetPath = `/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`;
  // Build it once; the load is about delivery from the cache.
  assert.equal(
    (await fetch(`${url}${assetPath}`).then(async (r) => [r.status, await r.arrayBuffer()]))[0],
    200,
  );
  const r = await runLoad({
    url,
    seconds: 15,
    downloads: 200,
    assetPath,
    assetSize: MIB << 20,
    schematicsPerSecond: 10,
    rssKiB: () => f!.rssKiB(),
  });
  const summary =
    `${r.downloads} downloads (${(r.bytes / 2 ** 30).toFixed(1)} GiB), ${r.schematics} schematics, ` +
    `create p99 ${percentile(r.createMs, 99).toFixed(0)} ms, RSS ${Math.min(...r.rssMiB).toFixed(0)}–` +
    `${Math.max(...r.rssMiB).toFixed(0)} MiB`;
  console.log(`load: ${summary}`);
  for (const e of r.errors.slice(0, 5)) console.log(`  error: ${e}`);
  assert.deepEqual(r.errors.slice(0, 5), [], summary);
  assert.ok(r.downloads >= 200, summary);
  assert.ok(r.schematics >= 140, summary);
  assert.ok(Math.max(...r.rssMiB) < 300, summary);
  // Flat: the last third of the run uses no more than the middle third plus a small margin.
  const mid = meanOf(r.rssMiB, 1 / 3, 2 / 3);
  const end = meanOf(r.rssMiB, 2 / 3, 1);
  assert.ok(end < mid * 1.2 + 16, `memory grows: ${mid.toFixed(0)} → ${end.toFixed(0)} MiB; ${summary}`);
});

/**
 * Load, in-suite variant (15 s; the 60 s delivery run is `bench/load.ts`): 200 concurrent
 * downloads of a cached UKI the real imager pipeline built, plus 10 schematic creations per
 * second, while real builds run beside them (ISOs of fresh schematics, two at a time), against a
 * factory process on 127.0.0.1 — no errors, every download the built bytes, every schematic ID
 * right, the builds finish with real ISOs, and the server's memory stays bounded and flat.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { EMPTY_ID, fixtureRelease } from "../factory/harness.js";
import { meanOf, percentile, runLoad } from "./load-run.js";
import { spawnFactory, type ChildFactory } from "./spawn-factory.js";

const SECONDS = 15;
/** Builds started beside the load, at most (each a new schematic: layer and ISO built for real). */
const MAX_BUILDS = 6;
let work = "";
let f: ChildFactory | undefined;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "bootforge-load-"));
  f = await spawnFactory({ storage: work, release: await fixtureRelease(), pipeline: "imager" });
});
after(async () => {
  await f?.kill();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Builds ISOs of fresh schematics, `lanes` at a time, until `until` or MAX_BUILDS; returns how many finished. */
async function buildBeside(
  url: string,
  until: () => boolean,
  lanes: number,
): Promise<{ built: number; errors: string[] }> {
  let next = 0;
  let built = 0;
  const errors: string[] = [];
  const lane = async () => {
    while (!until() && next < MAX_BUILDS) {
      const n = next++;
      const schematic = `customization:\n  extraKernelArgs:\n    - load-build=${n}\n`;
      const created = await fetch(`${url}/schematics`, { method: "POST", body: schematic });
      const { id } = (await created.json()) as { id: string };
      const r = await fetch(`${url}/image/${id}/v1.11.0/metal-amd64.iso`);
      const body = Buffer.from(await r.arrayBuffer());
      if (r.status !== 200 || body.toString("latin1", 0x8001, 0x8006) !== "CD001")
        errors.push(`build ${n}: ${r.status} ${body.toString("utf8", 0, 200)}`);
      else built++;
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return { built, errors };
}

it("200 concurrent downloads of a real UKI + 10 schematics/s for 15 s while real builds run: no errors, the built bytes, flat memory under 300 MiB", async () => {
  const url = f!.url;
  await fetch(`${url}/schematics`, { method: "POST", body: "{}" });
  const assetPath = `/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`;
  // Built once by the real pipeline; the load is about delivery from the cache beside builds.
  const first = await fetch(`${url}${assetPath}`);
  const uki = Buffer.from(await first.arrayBuffer());
  assert.equal(first.status, 200, uki.toString("utf8", 0, 400));
  assert.equal(uki.toString("latin1", 0, 2), "MZ");
  const digest = createHash("sha256").update(uki).digest("hex");

  let loadOver = false;
  const builds = buildBeside(url, () => loadOver, 2);
  const r = await runLoad({
    url,
    seconds: SECONDS,
    downloads: 200,
    assetPath,
    assetSize: uki.length,
    assetDigest: digest,
    schematicsPerSecond: 10,
    rssKiB: () => f!.rssKiB(),
  });
  loadOver = true;
  const b = await builds;
  const summary =
    `${r.downloads} downloads (${(r.bytes / 2 ** 30).toFixed(1)} GiB), ${r.schematics} schematics, ` +
    `${b.built} ISOs built beside, create p99 ${percentile(r.createMs, 99).toFixed(0)} ms, ` +
    `RSS ${Math.min(...r.rssMiB).toFixed(0)}–${Math.max(...r.rssMiB).toFixed(0)} MiB`;
  console.log(`load: ${summary}`);
  for (const e of [...r.errors, ...b.errors].slice(0, 5)) console.log(`  error: ${e}`);
  assert.deepEqual(r.errors.slice(0, 5), [], summary);
  assert.deepEqual(b.errors, [], summary);
  assert.ok(b.built >= 1, `no build finished beside the load: ${summary}`);
  assert.ok(r.downloads >= 200, summary);
  assert.ok(r.schematics >= 140, summary);
  assert.ok(Math.max(...r.rssMiB) < 300, summary);
  // Flat: the last third of the run uses no more than the middle third plus a small margin.
  const mid = meanOf(r.rssMiB, 1 / 3, 2 / 3);
  const end = meanOf(r.rssMiB, 2 / 3, 1);
  assert.ok(end < mid * 1.2 + 16, `memory grows: ${mid.toFixed(0)} → ${end.toFixed(0)} MiB; ${summary}`);
});

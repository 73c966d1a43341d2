import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, test } from "node:test";
import { nullReporter } from "../reporter/reporter.js";
import { OutputStaging } from "./publish.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-publish-"));
});
after(() => rm(dir, { recursive: true, force: true }));

test("an unpublished staging removes the output directories it made, and only those", async () => {
  const out = join(dir, "a", "b", "out");
  const s = await OutputStaging.create(out);
  assert.ok(existsSync(s.dir));
  await s.dispose();
  assert.ok(!existsSync(join(dir, "a")), "every directory create made is gone");
  assert.ok(existsSync(dir), "the parent that existed stays");

  // The same for a path relative to the working directory.
  const rel = relative(process.cwd(), join(dir, "r1", "r2"));
  const r = await OutputStaging.create(rel);
  await r.dispose();
  assert.ok(!existsSync(join(dir, "r1")));
  assert.ok(existsSync(dir));
});

test("an output directory that existed, or holds other files, stays", async () => {
  const existing = join(dir, "existing");
  await mkdir(existing);
  const s = await OutputStaging.create(existing);
  await s.dispose();
  assert.deepEqual(await readdir(existing), []);

  const busy = join(dir, "busy", "out");
  const t = await OutputStaging.create(busy);
  await writeFile(join(busy, "other.txt"), "someone else's");
  await t.dispose();
  assert.deepEqual(await readdir(busy), ["other.txt"]);
});

test("a published output stays with its directory; the staging directory goes", async () => {
  const out = join(dir, "published", "out");
  const s = await OutputStaging.create(out);
  await writeFile(s.path("metal-amd64.iso"), "iso");
  const final = await s.publish("metal-amd64.iso", "raw", nullReporter, { sourceDateEpoch: 0 });
  await s.dispose();
  assert.equal(final, join(out, "metal-amd64.iso"));
  assert.deepEqual(await readdir(out), ["metal-amd64.iso"]);
});

/**
 * A real full disk: the factory runs with its storage (asset store, layer cache, scratch space,
 * registry store, release cache) and its temp directory on a size-limited tmpfs of its own
 * (`bwrap --size N --tmpfs <dir>`), so a real build of the real pipeline meets ENOSPC. The request
 * fails with a clear error and upstream's status for a failed build (500), nothing half-written
 * stays in the stores or the scratch space, nothing is cached or served, no tool keeps running; once
 * space is freed the next request builds the same bytes as a build with room to spare.
 *
 * The test reads and fills the factory's file system through `/proc/<pid>/root`, the view of the
 * factory's own mount namespace, where the tmpfs is mounted.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, statfs } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import { fixtureRelease } from "../factory/harness.js";
import { digestsUnder, filesUnder, markedProcesses, markedTools, waitGone } from "./fault-probe.js";
import { spawnFactory, type ChildFactory } from "./spawn-factory.js";

const run = promisify(execFile);
const MARK = "BOOTFORGE_FAULT_MARK";
const SIZE = 768 << 20;
/** Room left when the disk is "full": less than any asset of the ISO build needs. */
const LEFT = 12 << 20;
const ISO = "metal-amd64.iso";

let work = "";
let f: ChildFactory | undefined;
before(async () => {
  work = await mkdtemp(join(tmpdir(), "bootforge-disk-full-"));
});
after(async () => {
  await f?.kill();
  if (work) await rm(work, { recursive: true, force: true });
});

/** A build stalled by the full disk must fail the test in bounded time, not hang it. */
const ANSWER_MS = 120_000;

async function get(url: string): Promise<{ status: number; digest: string; text: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(ANSWER_MS) }).catch((e: unknown) => {
    throw new Error(`no answer to ${url} within ${ANSWER_MS / 1000} s: ${(e as Error).message}`);
  });
  const body = Buffer.from(await r.arrayBuffer());
  return {
    status: r.status,
    digest: createHash("sha256").update(body).digest("hex"),
    text: r.status === 200 ? "" : body.toString("utf8", 0, 1000),
  };
}

it("a build that meets ENOSPC on a real (tmpfs) disk: a clear 500, nothing half-written, nothing cached; after space is freed the same bytes", async () => {
  const storage = join(work, "storage");
  await mkdir(storage);
  const mark = randomBytes(8).toString("hex");
  f = await spawnFactory({
    storage,
    release: await fixtureRelease(),
    pipeline: "imager",
    env: { [MARK]: mark, TMPDIR: join(storage, "tmp") },
    wrap: [
      "bwrap",
      "--dev-bind",
      "/",
      "/",
      "--size",
      String(SIZE),
      "--tmpfs",
      storage,
      "--dir",
      join(storage, "tmp"),
      "--die-with-parent",
    ],
  });
  // The factory's Node (bwrap's child) sees the tmpfs; so does anyone through its /proc root.
  const node = (await markedProcesses(MARK, mark)).find((p) => p.comm === "node");
  assert.ok(node, "the factory process");
  const root = `/proc/${node.pid}/root${storage}`;
  const fs = await statfs(root);
  assert.equal(fs.blocks * fs.bsize, SIZE, "the storage is the size-limited tmpfs");

  const id = (
    (await (await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" })).json()) as { id: string }
  ).id;
  const url = `${f.url}/image/${id}/v1.11.0/${ISO}`;
  // With room to spare: the reference bytes (and the release images extracted).
  const clean = await get(url);
  assert.equal(clean.status, 200, clean.text);
  // What a build with room caches (the ISO and its layers), by key; then forget it all and fill
  // the disk but for a few MiB.
  const complete = await digestsUnder(join(root, "store", "assets"));
  const isoKey = [...complete].find(([, d]) => d === clean.digest)?.[0];
  assert.ok(isoKey, "the ISO was cached");
  await rm(join(root, "store", "assets"), { recursive: true, force: true });
  const free = await statfs(root);
  const ballast = join(root, "ballast");
  await run("fallocate", ["-l", String(free.bavail * free.bsize - LEFT), ballast]);

  for (let attempt = 0; attempt < 2; attempt++) {
    const full = await get(url);
    assert.equal(full.status, 500, `attempt ${attempt}: ${full.status} ${full.text}`);
    if (attempt === 0) console.log(`disk-full: ${full.status} ${full.text.trim()}`);
    assert.match(full.text, /no space left on (the storage )?device/i, `attempt ${attempt}`);
    assert.ok(!/\n\s+at /.test(full.text), "no stack trace");
    // Nothing half-written: no ISO stored, a layer only if whole (what the roomy build cached
    // under its key), no temp file, no build directory left.
    for (const [key, digest] of await digestsUnder(join(root, "store", "assets"))) {
      assert.notEqual(key, isoKey, "the failed ISO is not cached");
      assert.equal(digest, complete.get(key), `store/assets/${key} is whole`);
    }
    assert.deepEqual(await readdir(join(root, "store", "tmp")), [], "no temp file in the store");
    const scratch = await filesUnder(join(root, "scratch", "builds"));
    assert.deepEqual(
      scratch.filter((x) => !x.path.startsWith("schematic-extensions/") || x.path.endsWith(".tmp")),
      [],
      "no build's scratch space left",
    );
    // No tool of the failed build still running: only the factory and its launcher shell.
    const tools = await markedTools(MARK, mark);
    assert.deepEqual(
      tools.map((p) => p.cmdline.slice(0, 160)),
      [],
      "tools of the failed build",
    );
  }

  await rm(ballast);
  const again = await get(url);
  assert.equal(again.status, 200, again.text);
  assert.equal(again.digest, clean.digest, "after space is freed: the same bytes as with room to spare");
  await f.stop();
  assert.deepEqual(await waitGone(MARK, mark, 5000), [], "the factory and everything it started are gone");
});

/**
 * Faults: the factory SIGKILLed at seeded random points during builds and schematic uploads, then
 * restarted on the same storage, serves only complete assets and rebuilds the rest; a write that
 * cannot complete (a full disk) is reported and never enters the cache.
 *
 * Full disk, rootless: no tmpfs or loop device without root, so the child runs under
 * `ulimit -f` (RLIMIT_FSIZE) with SIGXFSZ ignored; a write past the limit fails with EFBIG exactly
 * where ENOSPC would, through the same code path (the write stream errors mid-asset).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { request } from "node:http";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Gen } from "../../src/schematic/testing/arbitrary.js";
import { EMPTY_ID, fixtureRelease } from "../factory/harness.js";
import { ukiDigest } from "./slow-uki.js";
import { spawnFactory, type ChildFactory } from "./spawn-factory.js";

const MIB = 8;
const SEED = Number(process.env.BOOTFORGE_FUZZ_SEED ?? 10);

let release = "";
let work = "";
const children: ChildFactory[] = [];
before(async () => {
  release = await fixtureRelease();
  work = await mkdtemp(join(tmpdir(), "bootforge-faults-"));
});
after(async () => {
  for (const c of children) await c.kill();
  if (work) await rm(work, { recursive: true, force: true });
});

async function start(o: Omit<Parameters<typeof spawnFactory>[0], "release">): Promise<ChildFactory> {
  const c = await spawnFactory({ release, ...o });
  children.push(c);
  return c;
}

/** Every file under `dir` (recursively) with its size. */
async function files(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push({ path: p, size: (await stat(p)).size });
  }
  return out;
}

async function sha256(url: string): Promise<{ status: number; digest: string; body: string }> {
  const r = await fetch(url);
  const buf = Buffer.from(await r.arrayBuffer());
  return {
    status: r.status,
    digest: createHash("sha256").update(buf).digest("hex"),
    body: r.status === 200 ? "" : buf.toString(),
  };
}

const ukiPath = (platform: string, arch: string) => `/image/${EMPTY_ID}/v1.11.0/${platform}-${arch}-uki.efi`;

describe("faults: SIGKILL during builds and uploads", () => {
  it("killed at 6 seeded points in 2 s builds: after restart only complete assets, the rest rebuilt", async () => {
    const storage = join(work, "kill-builds");
    const journal = join(work, "kill-builds.journal");
    const g = new Gen(SEED);
    let f = await start({ storage, journal, ukiMib: MIB, chunkMs: 250 });
    assert.equal((await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" })).status, 201);
    const targets = [
      ["metal", "amd64"],
      ["metal", "arm64"],
      ["nocloud", "amd64"],
      ["nocloud", "arm64"],
      ["aws", "amd64"],
      ["gcp", "amd64"],
    ] as const;
    for (const [platform, arch] of targets) {
      // Start the build, then kill anywhere from before it starts to after it is stored.
      // The kill may land before the answer or in the middle of its body: both are expected.
      const pending = fetch(`${f.url}${ukiPath(platform, arch)}`)
        .then(async (r) => void (await r.arrayBuffer()))
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, g.int(200, 2500)));
      await f.kill();
      await pending;
      f = await start({ storage, journal, ukiMib: MIB, chunkMs: 250 });
      // Interrupted writes are swept on open; what is in the cache is whole.
      assert.deepEqual(await readdir(join(storage, "store", "tmp")), []);
      for (const file of await files(join(storage, "store", "assets")))
        assert.equal(file.size, MIB << 20, `partial asset in the cache: ${file.path}`);
      const got = await sha256(`${f.url}${ukiPath(platform, arch)}`);
      assert.equal(got.status, 200, got.body);
      assert.equal(got.digest, ukiDigest(`${EMPTY_ID}/${platform}/${arch}`, MIB), `${platform}-${arch}`);
    }
    await f.stop();
    // The run must actually have interrupted builds, or it proved nothing.
    const lines = (await readFile(journal, "utf8")).trim().split("\n");
    const done = new Set(lines.filter((l) => l.includes(" done ")).map((l) => l.replace(" done ", " ")));
    const interrupted = lines.filter((l) => l.includes(" start ") && !done.has(l.replace(" start ", " ")));
    assert.ok(interrupted.length >= 1, `no build was interrupted:\n${lines.join("\n")}`);
  });

  it("killed mid-upload: the schematic is absent; killed right after 201: it is durable", async () => {
    const storage = join(work, "kill-uploads");
    let f = await start({ storage });
    const schematic = 'customization:\n  extraKernelArgs:\n    - "reliability=1"\n';
    const id = (
      (await (await fetch(`${f.url}/schematics`, { method: "POST", body: schematic })).json()) as {
        id: string;
      }
    ).id;
    await f.kill();
    f = await start({ storage });
    // The first create above was acknowledged before the kill, so it survived.
    assert.equal((await fetch(`${f.url}/schematics/${id}`)).status, 200);

    // Half a body, then SIGKILL while the server waits for the rest.
    const other = 'customization:\n  extraKernelArgs:\n    - "reliability=2"\n';
    const { port } = new URL(f.url);
    const req = request({ host: "127.0.0.1", port, method: "POST", path: "/schematics" });
    req.on("error", () => undefined);
    req.write(other.slice(0, 20));
    await new Promise((r) => setTimeout(r, 300));
    await f.kill();
    req.destroy();
    f = await start({ storage });
    assert.deepEqual(await readdir(join(storage, "store", "tmp")), []);
    const ids = (await readdir(join(storage, "store", "schematics"))).sort();
    assert.deepEqual(ids, [`${id}.yaml`], "only the acknowledged schematic is stored");
    const created = await fetch(`${f.url}/schematics`, { method: "POST", body: other });
    assert.equal(created.status, 201);
    await f.stop();
  });
});

describe("faults: a full disk is reported, not cached", () => {
  it("a build that cannot be written fails with a storage error, leaves no cache entry, and rebuilds later", async () => {
    const storage = join(work, "full-disk");
    // Warm the release cache without a limit, so only the asset write meets the limit.
    let f = await start({ storage, ukiMib: MIB, chunkMs: 0 });
    await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
    assert.equal((await sha256(`${f.url}${ukiPath("metal", "amd64")}`)).status, 200);
    await f.stop();

    f = await start({ storage, ukiMib: MIB, chunkMs: 0, fileSizeKiB: (MIB << 10) / 2 });
    for (let i = 0; i < 2; i++) {
      const r = await sha256(`${f.url}${ukiPath("nocloud", "amd64")}`);
      assert.equal(r.status, 500, `attempt ${i}: ${r.status} ${r.body}`);
      assert.match(r.body, /^storage: writing [0-9a-f]+: .*(too large|no space)/i);
    }
    // The cached asset still serves; nothing partial was stored; small writes still work.
    const cached = await sha256(`${f.url}${ukiPath("metal", "amd64")}`);
    assert.equal(cached.status, 200, cached.body);
    assert.equal(
      (await fetch(`${f.url}/schematics`, { method: "POST", body: "customization: {}\n" })).status,
      201,
    );
    assert.deepEqual(await readdir(join(storage, "store", "tmp")), []);
    assert.equal((await files(join(storage, "store", "assets"))).length, 1);
    await f.stop();

    f = await start({ storage, ukiMib: MIB, chunkMs: 0 });
    const got = await sha256(`${f.url}${ukiPath("nocloud", "amd64")}`);
    assert.equal(got.status, 200, got.body);
    assert.equal(got.digest, ukiDigest(`${EMPTY_ID}/nocloud/amd64`, MIB));
    await f.stop();
  });
});

/**
 * Faults on real builds: a factory process building with the real imager pipeline (tools,
 * scratch space, the layer cache, the installer registry) is SIGKILLed at seeded random points —
 * after a random delay, while a tool runs, while the layer cache or an asset is half-written,
 * while an installer image is being copied into the registry store — at least 20 times. After
 * each kill: no process the factory started is still running (found by scanning /proc for the
 * marker in their environment), the asset store and the registry store hold only complete
 * objects, byte-identical to what a clean factory built from the same inputs, and after a restart
 * on the same storage the killed request gets exactly the bytes of that clean build.
 *
 * The seed is printed; `BOOTFORGE_FUZZ_SEED=<n>` replays its choices (the kill points themselves
 * also depend on timing). `BOOTFORGE_FAULT_KILLS` changes the number of kills (default 20).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { fixtureRelease } from "../factory/harness.js";
import { prng } from "../helpers/prng.js";
import { digestsUnder, filesUnder, markedTools, sha256File, waitGone } from "./fault-probe.js";
import { spawnFactory, type ChildFactory } from "./spawn-factory.js";

const run = promisify(execFile);
const SEED = Number(process.env.BOOTFORGE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = Number(process.env.BOOTFORGE_FAULT_KILLS ?? 20);
const MARK = "BOOTFORGE_FAULT_MARK";
const VERSION = "v1.11.0";
const SCHEMATIC =
  "customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/bootforge-hello\n";
/** How long the processes of a killed factory may take to go (they are told at once). */
const GONE_MS = 1500;

/** One kind of request the kills interrupt: an asset download or an installer pull through /v2. */
interface Target {
  name: string;
  /** What a complete answer is: the asset's sha256, or the installer index digest. */
  fetch(url: string, id: string): Promise<Answer>;
}

interface Answer {
  status: number;
  /** sha256 hex of the complete body (undefined when the body was cut off). */
  digest: string | undefined;
  text: string;
}

async function download(url: string): Promise<Answer> {
  try {
    const r = await fetch(url);
    const body = Buffer.from(await r.arrayBuffer());
    const length = r.headers.get("content-length");
    const whole = length === null || Number(length) === body.length;
    return {
      status: r.status,
      digest: whole ? createHash("sha256").update(body).digest("hex") : undefined,
      text: r.status === 200 ? "" : body.toString("utf8", 0, 400),
    };
  } catch (e) {
    return { status: 0, digest: undefined, text: (e as Error).message };
  }
}

const asset = (file: string): Target => ({
  name: file,
  fetch: (url, id) => download(`${url}/image/${id}/${VERSION}/${file}`),
});

/** The installer index as /v2 serves it, and every manifest and blob below it checked by digest. */
const installer: Target = {
  name: "metal-installer (/v2)",
  fetch: async (url, id) => {
    const index = await download(`${url}/v2/metal-installer/${id}/manifests/${VERSION}`);
    if (index.status !== 200 || index.digest === undefined) return index;
    const res = await fetch(`${url}/v2/metal-installer/${id}/manifests/sha256:${index.digest}`);
    const doc = (await res.json()) as { manifests: { digest: string }[] };
    for (const m of doc.manifests) {
      const mr = await download(`${url}/v2/metal-installer/${id}/manifests/${m.digest}`);
      assert.equal(`sha256:${mr.digest}`, m.digest, "platform manifest served whole");
      const manifest = (await (
        await fetch(`${url}/v2/metal-installer/${id}/manifests/${m.digest}`)
      ).json()) as {
        config: { digest: string };
        layers: { digest: string }[];
      };
      for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) {
        const b = await download(`${url}/v2/metal-installer/${id}/blobs/${d}`);
        assert.equal(`sha256:${b.digest}`, d, `blob ${d} served whole`);
      }
    }
    return index;
  },
};

// The first target after an emptied cache also builds the initramfs layer.
const TARGETS: Target[] = [
  asset("metal-amd64-uki.efi"),
  asset("metal-amd64.iso"),
  asset("metal-amd64.qcow2"),
  installer,
  asset("vmware-amd64.ova"),
];

/** One kill's target and its place in its round (a round starts from an emptied cache). */
interface Step {
  target: Target;
  first: boolean;
  last: boolean;
}

/** Rounds of every target; the installer (two architectures, the slowest) every other round. */
function schedule(rounds: number): Step[] {
  const out: Step[] = [];
  for (let r = 0; r < rounds; r++) {
    const round = r % 2 === 0 ? TARGETS : TARGETS.filter((t) => t !== installer);
    round.forEach((target, i) => out.push({ target, first: i === 0, last: i === round.length - 1 }));
  }
  return out;
}

type Trigger = "delay" | "tool" | "write" | "upload";

/** What was going on when the kill landed. */
interface KillRecord {
  target: string;
  trigger: Trigger;
  atMs: number;
  tools: string[];
  writing: number;
  uploading: number;
  answered: boolean;
}

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

/** A factory process on the real pipeline with a fresh marker; returns it and the marker. */
async function start(storage: string): Promise<{ f: ChildFactory; mark: string }> {
  const mark = randomBytes(8).toString("hex");
  const f = await spawnFactory({ storage, release, pipeline: "imager", env: { [MARK]: mark } });
  children.push(f);
  return { f, mark };
}

async function createSchematic(url: string): Promise<string> {
  const r = await fetch(`${url}/schematics`, { method: "POST", body: SCHEMATIC });
  assert.equal(r.status, 201);
  return ((await r.json()) as { id: string }).id;
}

/** Files being written: the asset store's tmp/ and the registry store's blob temp files. */
async function inFlightWrites(storage: string): Promise<{ writing: number; uploading: number }> {
  const writing = (await filesUnder(join(storage, "store", "tmp"))).filter((f) => f.size > 0).length;
  const uploading = (await filesUnder(join(storage, "registry", "blobs"))).filter((f) =>
    f.path.includes(".tmp-"),
  ).length;
  return { writing, uploading };
}

/** The build tools running under `mark`. */
async function toolsRunning(mark: string): Promise<string[]> {
  return (await markedTools(MARK, mark)).map((p) => p.comm);
}

describe("faults: SIGKILL during real builds", () => {
  it(`killed ${KILLS} times at seeded random points of real builds: nothing left running, nothing partial stored or served, every rebuild byte-identical to a clean build`, async () => {
    console.log(`faults: seed ${SEED} (replay with BOOTFORGE_FUZZ_SEED=${SEED}), ${KILLS} kills`);
    const rng = prng(SEED);

    // The reference: a clean factory on fresh storage builds every target once.
    const refStorage = join(work, "reference");
    const ref = await start(refStorage);
    const id = await createSchematic(ref.f.url);
    const want = new Map<string, string>();
    const took = new Map<string, number>();
    for (const t of TARGETS) {
      const started = Date.now();
      const a = await t.fetch(ref.f.url, id);
      assert.equal(a.status, 200, `${t.name}: ${a.text}`);
      assert.ok(a.digest, t.name);
      want.set(t.name, a.digest);
      took.set(t.name, Date.now() - started);
    }
    await ref.f.stop();
    const refAssets = await digestsUnder(join(refStorage, "store", "assets"));
    console.log(
      `faults: reference builds ${TARGETS.map((t) => `${t.name} ${took.get(t.name)} ms`).join(", ")}`,
    );

    // The factory under test: its own storage (the extracted release images are shared read-only,
    // as hard links, so each kill costs a build and not a release extraction).
    const storage = join(work, "killed");
    await run("mkdir", ["-p", storage]);
    await run("cp", ["-al", join(refStorage, "release"), join(storage, "release")]);
    let cur = await start(storage);
    assert.equal(await createSchematic(cur.f.url), id);

    const kills: KillRecord[] = [];
    const steps = schedule(KILLS);
    // Kills that land after the answer (the build was quicker than the chosen moment) do not
    // count; the loop goes on until KILLS have interrupted a build, within a bound.
    for (let i = 0; kills.filter((k) => !k.answered).length < KILLS; i++) {
      assert.ok(
        i < KILLS * 2,
        `only ${kills.filter((k) => !k.answered).length} of ${i} kills interrupted a build`,
      );
      const { target, first, last } = steps[i]!;
      const pick = rng();
      // The first installer kill always waits for the copy into the registry store (its window
      // is short; chance alone may miss it in a run); later ones for it half of the time.
      const firstInstaller = target === installer && !kills.some((k) => k.target === installer.name);
      const trigger: Trigger =
        target === installer && (firstInstaller || pick < 0.5)
          ? "upload"
          : first && pick < 0.5
            ? "write"
            : pick < 0.75
              ? "tool"
              : "delay";
      const estimate = took.get(target.name)!;
      const extra = rng();
      const started = Date.now();
      let answer: Answer | undefined;
      const pending = target.fetch(cur.f.url, id).then(
        (a) => void (answer = a),
        () => undefined,
      );
      // Wait for the chosen moment (or the end of the build, if it comes first).
      const deadline = started + estimate * 3 + 10_000;
      const delay = started + (0.05 + 0.85 * extra) * estimate;
      for (;;) {
        if (answer !== undefined || Date.now() > deadline) break;
        if (trigger === "delay" && Date.now() >= delay) break;
        if (trigger === "tool" && (await toolsRunning(cur.mark)).length > 0) {
          await new Promise((r) => setTimeout(r, extra * 200));
          break;
        }
        const w = trigger === "write" || trigger === "upload" ? await inFlightWrites(storage) : undefined;
        if (trigger === "write" && w!.writing > 0) {
          await new Promise((r) => setTimeout(r, extra * 100));
          break;
        }
        if (trigger === "upload" && w!.uploading > 0) break;
        await new Promise((r) => setTimeout(r, 15));
      }
      const tools = await toolsRunning(cur.mark);
      const writes = await inFlightWrites(storage);
      const atMs = Date.now() - started;
      await cur.f.kill();
      await pending;
      const record: KillRecord = {
        target: target.name,
        trigger,
        atMs,
        tools,
        ...writes,
        answered: answer?.status === 200,
      };
      kills.push(record);
      const where = `kill ${i + 1} (${JSON.stringify(record)})`;

      // An answer that came whole before the kill is the clean build's.
      if (answer?.status === 200 && answer.digest !== undefined)
        assert.equal(answer.digest, want.get(target.name), `${where}: served before the kill`);
      // Nothing the factory started keeps running.
      const left = await waitGone(MARK, cur.mark, GONE_MS);
      assert.deepEqual(
        left.map((p) => `${p.pid} ${p.cmdline.slice(0, 160)}`),
        [],
        `${where}: processes of the killed factory still running`,
      );
      // Whatever made it into the asset store is complete: the clean build's bytes, key for key.
      for (const [path, digest] of await digestsUnder(join(storage, "store", "assets")))
        assert.equal(digest, refAssets.get(path), `${where}: store/assets/${path} is not the clean build's`);
      // The next round's installer pull must build again: its tag goes with the registry store.
      if (steps[i + 1]?.target === installer)
        await rm(join(storage, "registry"), { recursive: true, force: true });

      cur = await start(storage);
      assert.deepEqual(await readdir(join(storage, "store", "tmp")), [], `${where}: tmp/ swept on start`);
      // The registry store holds only whole blobs, each the bytes its digest names.
      for (const f of await filesUnder(join(storage, "registry", "blobs"))) {
        assert.ok(!f.path.includes(".tmp-"), `${where}: partial registry blob left: ${f.path}`);
        const hex = f.path.split("/").pop()!;
        assert.equal(
          await sha256File(join(storage, "registry", "blobs", f.path)),
          hex,
          `${where}: ${f.path}`,
        );
      }
      const rebuildStarted = Date.now();
      const again = await target.fetch(cur.f.url, id);
      // The next kill of this target aims within this (warm) build time, not the reference's.
      took.set(target.name, Date.now() - rebuildStarted);
      assert.equal(again.status, 200, `${where}: rebuild: ${again.text}`);
      assert.equal(
        again.digest,
        want.get(target.name),
        `${where}: rebuilt bytes differ from the clean build`,
      );
      // A new round starts from an empty asset cache (the store reads it afresh on every
      // request), so the initramfs layer is built, and can be killed, again.
      if (last) await rm(join(storage, "store", "assets"), { recursive: true, force: true });
    }
    await cur.f.stop();

    for (const k of kills)
      console.log(
        `faults: ${k.target} killed at ${k.atMs} ms (${k.trigger}): tools [${k.tools.join(" ")}], ` +
          `${k.writing} store writes, ${k.uploading} registry uploads${k.answered ? ", after the answer" : ""}`,
      );
    // The run must have hit the moments it is about, or it proved nothing.
    assert.ok(
      kills.some((k) => k.tools.length > 0),
      "a kill while tools ran",
    );
    assert.ok(
      kills.some((k) => k.writing > 0),
      "a kill while the layer cache or an asset was half-written",
    );
    assert.ok(
      kills.some((k) => k.uploading > 0),
      "a kill while an installer was copied into the registry store",
    );
  });

  it("killed mid-upload: the schematic is absent; killed right after 201: it is durable", async () => {
    const storage = join(work, "kill-uploads");
    let { f } = await start(storage);
    const schematic = 'customization:\n  extraKernelArgs:\n    - "reliability=1"\n';
    const id = (
      (await (await fetch(`${f.url}/schematics`, { method: "POST", body: schematic })).json()) as {
        id: string;
      }
    ).id;
    await f.kill();
    ({ f } = await start(storage));
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
    ({ f } = await start(storage));
    assert.deepEqual(await readdir(join(storage, "store", "tmp")), []);
    const ids = (await readdir(join(storage, "store", "schematics"))).sort();
    assert.deepEqual(ids, [`${id}.yaml`], "only the acknowledged schematic is stored");
    const created = await fetch(`${f.url}/schematics`, { method: "POST", body: other });
    assert.equal(created.status, 201);
    await f.stop();
  });
});

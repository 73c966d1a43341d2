/**
 * Smoke test of `image-factory serve` as users run it: a child process on 127.0.0.1:0 with a
 * temporary storage directory and the fixture release; the URL it prints answers /versions and a
 * command-line asset (whose PXE links name the bound port), and SIGTERM makes it exit 0.
 */
import { strict as assert } from "node:assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { EMPTY_ID, fixturePublicKey, fixtureRelease } from "./harness.js";

const STARTUP_MS = 60_000;

/** Resolves with the first match of `re` in the child's stderr, or rejects on exit or timeout. */
function waitFor(
  child: ChildProcess,
  re: RegExp,
  ms: number,
  seen: { text: string },
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${re} within ${ms} ms:\n${seen.text}`)), ms);
    const onData = (b: Buffer) => {
      seen.text += b.toString();
      const m = re.exec(seen.text);
      if (m) done(undefined, m);
    };
    const onExit = (code: number | null) => done(new Error(`serve exited (${code}) early:\n${seen.text}`));
    const done = (e?: Error, m?: RegExpExecArray) => {
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      if (e) reject(e);
      else resolve(m!);
    };
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
}

describe("image-factory serve", () => {
  let child: ChildProcess;
  let dir = "";
  let url = "";
  const stderr = { text: "" };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bootforge-serve-"));
    const release = await fixtureRelease();
    child = spawn(
      process.execPath,
      [
        "bin/image-factory.js",
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--storage-dir",
        dir,
        "--release-layout",
        release,
        "--container-signature-public-key",
        await fixturePublicKey(),
      ],
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, BOOTFORGE_CONFIG: "" } },
    );
    url = (
      await waitFor(child, /serving at (http:\/\/127\.0\.0\.1:\d+)[\s\S]*\/versions\n/, STARTUP_MS, stderr)
    )[1]!;
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("prints its URL and an example curl, and answers /versions", async () => {
    assert.match(stderr.text, /try: curl -X POST/);
    const r = await fetch(`${url}/versions`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), ["v1.9.0", "v1.11.0", "v1.12.0"]);
  });

  it("serves a command-line asset and a PXE script naming the bound port", async () => {
    assert.equal((await fetch(`${url}/schematics`, { method: "POST", body: "{}" })).status, 201);
    const c = await fetch(`${url}/image/${EMPTY_ID}/v1.11.0/cmdline-metal-amd64`);
    assert.equal(c.status, 200);
    assert.match(await c.text(), /^talos\.platform=metal /);
    const p = await fetch(`${url}/pxe/${EMPTY_ID}/v1.11.0/metal-amd64`);
    assert.equal(p.status, 200);
    assert.ok((await p.text()).includes(`kernel ${url}/image/${EMPTY_ID}/v1.11.0/kernel-amd64 `));
  });

  it("exits 0 on SIGTERM", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const code = await Promise.race([
      exited,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no exit within 15 s")), 15_000)),
    ]);
    assert.equal(code, 0, stderr.text);
  });
});

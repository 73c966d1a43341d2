/**
 * Ctrl-C during a build: the imager stops its tools (they run outside the terminal's process
 * group, so the terminal's SIGINT does not reach them), removes its scratch directory, writes
 * no output, and exits 128 + the signal number.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ensureFixtureRelease, fixtureImageRef } from "../../fixtures/index.js";
import { REPO_ROOT } from "../helpers/shared.js";

const VERSION = "v1.11.0";

/** PIDs of processes whose command line mentions `needle`. */
async function processesMentioning(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    const state = (await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "")).replace(/^.*\) /s, "")[0];
    if (cmd.includes(needle) && state !== "Z") pids.push(Number(entry));
  }
  return pids;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  test(
    `${signal} mid-build stops the tools, leaves nothing behind and exits 128+n`,
    { timeout: 120_000 },
    async () => {
      const fixture = await ensureFixtureRelease();
      const release = fixture.dir;
      const work = await mkdtemp(join(tmpdir(), "bootforge-interrupt-"));
      try {
        const tmp = join(work, "tmp");
        const out = join(work, "out");
        await import("node:fs/promises").then((fs) => fs.mkdir(tmp));
        const child = spawn(
          process.execPath,
          [
            join(REPO_ROOT, "bin", "imager.js"),
            "iso",
            "--arch",
            "amd64",
            "--talos-version",
            VERSION,
            "--release-source",
            `oci-layout:${release}`,
            "--cache-dir",
            join(work, "cache"),
            "--system-extension-image",
            "ghcr.io/siderolabs/bootforge-hello:1.0.0",
            "--system-extension-image",
            fixtureImageRef(fixture.manifest, "bootforge-dummy-module", VERSION),
            "--output",
            out,
          ],
          {
            cwd: REPO_ROOT,
            env: { ...process.env, TMPDIR: tmp, SOURCE_DATE_EPOCH: "1700000000" },
            stdio: ["ignore", "ignore", "pipe"],
          },
        );
        let stderr = "";
        let signalled = false;
        const sent = new Promise<void>((resolve) => {
          child.stderr.on("data", (c: Buffer) => {
            stderr += c.toString();
            // Tools are running: the extension layers are being compressed.
            if (!signalled && /compressing system extensions/.test(stderr)) {
              signalled = true;
              child.kill(signal);
              resolve();
            }
          });
        });
        const exit = new Promise<number | null>((resolve) =>
          child.on("exit", (code, sig) => {
            if (sig !== null) stderr += `\n(killed by ${sig})`;
            resolve(code);
          }),
        );
        await Promise.race([sent, exit]);
        const t = performance.now();
        const code = await exit;
        assert.ok(stderr.includes("compressing system extensions"), `the build reached its tools: ${stderr}`);
        assert.equal(code, signal === "SIGINT" ? 130 : 143, stderr);
        assert.match(stderr, new RegExp(`interrupted by ${signal}`));
        assert.ok(performance.now() - t < 10_000, "stopped promptly");
        // Nothing in the scratch area, no output, no tool still running on the work directory.
        const left = (await readdir(tmp)).filter((n) => n.startsWith("imager"));
        assert.deepEqual(left, [], "the scratch directory is removed");
        assert.deepEqual(await readdir(out).catch(() => []), []);
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(await processesMentioning(tmp), [], "no tool keeps running");
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  );
}

import assert from "node:assert/strict";
import { test } from "node:test";
import { PassThrough, Readable } from "node:stream";
import { isBootforgeError } from "../../errors/index.js";
import { lookupTool, requireTool, resetToolCache } from "./registry.js";
import { run } from "./run.js";
import { transform } from "./transform.js";
import { parseToolVersion, toolVersion } from "./version.js";

test("requireTool finds installed programs, including sbin ones", () => {
  assert.match(requireTool("xz"), /\/xz$/);
  assert.match(requireTool("mkfs.vfat"), /\/mkfs\.vfat$/);
});

test("a missing program is a dependency error naming its Debian package", () => {
  const saved = process.env.PATH;
  try {
    process.env.PATH = "/nonexistent";
    resetToolCache();
    // sbin dirs are still searched, so pick a program that lives only in /usr/bin
    assert.equal(lookupTool("zstd"), undefined);
    assert.throws(
      () => requireTool("zstd"),
      (e: unknown) => isBootforgeError(e, "dependency") && /"zstd".*apt-get install zstd/.test(e.message),
    );
  } finally {
    process.env.PATH = saved;
    resetToolCache();
  }
});

test("run captures stdout and reports stderr and status on failure", async () => {
  const { stdout } = await run("xz", ["--robot", "--version"]);
  assert.match(stdout.toString(), /XZ_VERSION/);
  await assert.rejects(run("xz", ["--no-such-flag"], { errorKind: "internal" }), (e: unknown) => {
    return isBootforgeError(e, "internal") && /xz exited with status 1: .*no-such-flag/s.test(e.message);
  });
});

test("run honours an AbortSignal", async () => {
  const ac = new AbortController();
  const pending = run("xz", ["-dc"], { stdin: new PassThrough(), signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(pending, (e: unknown) => isBootforgeError(e) && /aborted/.test(e.message));
});

test("transform streams through xz and back", async () => {
  const input = Buffer.alloc(200_000, "bootforge ");
  const compressed: Buffer[] = [];
  const sink = new PassThrough();
  sink.on("data", (c: Buffer) => compressed.push(c));
  await transform("xz", ["-0", "-c"], Readable.from([input]), sink);
  const { stdout } = await run("xz", ["-dc"], { stdin: Buffer.concat(compressed) });
  assert.ok(stdout.equals(input));
});

test("toolVersion reads a version line", async () => {
  const v = await toolVersion("mkfs.xfs");
  assert.match(v, /mkfs\.xfs version \d/);
  assert.ok(parseToolVersion(v)[0] >= 5);
  assert.match(await toolVersion("mkfs.vfat"), /mkfs\.fat \d/);
});

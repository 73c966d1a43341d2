/**
 * Explicit image references stay explicit: with a layout as the release source, an extension
 * named by another registry (a loopback registry here) is pulled from that registry, not looked
 * up in the layout; the ISO built with it boots and reports the extension.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import { ensureFixtureRelease } from "../../fixtures/index.js";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { boot } from "../qemu/boot.js";
import { runImager } from "../helpers/run-imager.js";

const exec = promisify(execFile);
const VERSION = "v1.11.0";
let release = "";
let scratch = "";
let registry: TestRegistry | undefined;

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-explicit-refs-"));
  registry = await startRegistry("none");
  // The hello extension, under another repository name on the loopback registry only.
  await exec("skopeo", [
    "copy",
    "--all",
    "--preserve-digests",
    "--dest-tls-verify=false",
    `oci:${release}:siderolabs/bootforge-hello:1.0.0`,
    `docker://${registry.host}/custom/hello-elsewhere:3.0.0`,
  ]);
});
after(async () => {
  await registry?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const imager = (ref: string, out: string) =>
  runImager(["iso", "--arch", "amd64", "--system-extension-image", ref, "--insecure"], {
    source: `oci-layout:${release}`,
    version: VERSION,
    cacheDir: join(scratch, "cache"),
    out,
    sourceDateEpoch: "1700000000",
  });

test(
  "a layout release source pulls another registry's extension from that registry",
  { timeout: 300_000 },
  async () => {
    assert.ok(registry);
    const out = join(scratch, "out");
    const r = await imager(`${registry.host}/custom/hello-elsewhere:3.0.0`, out);
    assert.equal(r.code, 0, r.stderr);
    const { facts } = await boot({
      arch: "amd64",
      firmware: "bios",
      media: { kind: "iso", path: join(out, "metal-amd64.iso") },
    });
    assert.deepEqual(
      facts.extensions.map((e) => e.split("@")[0]),
      ["bootforge-hello"],
    );
    assert.equal(facts.other.hello, "bootforge-hello");
  },
);

test("a reference missing from its own registry names that registry, not the layout", async () => {
  assert.ok(registry);
  const r = await imager(`${registry.host}/custom/not-there:1.0.0`, join(scratch, "missing"));
  assert.equal(r.code, 5, r.stderr);
  assert.match(r.stderr, new RegExp(`${registry.host.replace(/\./g, "\\.")}/custom/not-there:1\\.0\\.0`));
  assert.doesNotMatch(r.stderr, new RegExp(release.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
});

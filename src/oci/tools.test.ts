import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { RegistryClient } from "./client.js";
import { writeIndex } from "./image-builder.js";
import { OciLayout } from "./layout.js";
import { multiArchFixture, type MultiArchFixture } from "./testing/fixtures.js";
import { openSource } from "./tools.js";

const run = promisify(execFile);
let dir = "";
let fx: MultiArchFixture;
before(async () => {
  fx = await multiArchFixture();
  dir = await mkdtemp(join(tmpdir(), "bootforge-tools-test-"));
  // Named like a Talos release layout: repository and tag, so the name itself holds a colon.
  await writeIndex(await OciLayout.create(dir), fx.images, fx.index, "siderolabs/tool:v1.0.0");
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(fx.dir, { recursive: true, force: true });
});

test("oci:<dir>:<name> splits at the first colon, as skopeo does, so names may carry a tag", async () => {
  const location = `oci:${dir}:siderolabs/tool:v1.0.0`;
  const { source, ref } = await openSource(location, new RegistryClient());
  assert.equal(ref, "siderolabs/tool:v1.0.0");
  assert.equal((await source.resolve(ref)).digest, fx.index.digest);
  // skopeo reads the same location as the same image
  const { stdout } = await run("skopeo", ["inspect", "--raw", location]);
  assert.equal(stdout, fx.index.bytes.toString());
  // a digest works as the name too
  const byDigest = await openSource(`oci:${dir}:${fx.index.digest}`, new RegistryClient());
  assert.equal((await byDigest.source.resolve(byDigest.ref)).digest, fx.index.digest);
});

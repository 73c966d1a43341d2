import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, readdir, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OciLayout } from "../oci/layout.js";
import { writeIndex } from "../oci/image-builder.js";
import { resolveImage } from "../oci/image.js";
import { multiArchFixture } from "../oci/testing/fixtures.js";
import { ExtractedImages } from "./extracted-images.js";

test("extracts once per digest and sweeps only stale temporary trees of killed processes", async () => {
  const fx = await multiArchFixture();
  const work = await mkdtemp(join(tmpdir(), "bf-extracted-"));
  try {
    const layout = await OciLayout.create(join(work, "layout"));
    await writeIndex(layout, fx.images, fx.index, "img:1");
    const image = await resolveImage(layout, "img:1", { os: "linux", architecture: "amd64" });

    const cache = join(work, "cache");
    await mkdir(join(cache, "rootfs", "sha256-dead.tmp-old"), { recursive: true });
    await mkdir(join(cache, "rootfs", "sha256-beef.tmp-new"), { recursive: true });
    const old = new Date(Date.now() - 7 * 60 * 60 * 1000);
    await utimes(join(cache, "rootfs", "sha256-dead.tmp-old"), old, old);

    const images = new ExtractedImages(cache);
    const [a, b] = await Promise.all([images.extract(image), images.extract(image)]);
    assert.equal(a, b);
    assert.equal(await readFile(join(a, "usr/bin/tool"), "utf8"), "v2 amd64\n");
    const left = (await readdir(join(cache, "rootfs"))).sort();
    // The stale tree is gone, a recent one (maybe another process's live extraction) is kept.
    assert.ok(!left.includes("sha256-dead.tmp-old"), left.join(","));
    assert.ok(left.includes("sha256-beef.tmp-new"), left.join(","));
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(fx.dir, { recursive: true, force: true });
  }
});

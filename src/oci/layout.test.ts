import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { isBootforgeError } from "../errors/index.js";
import { readSmallBlob } from "./image.js";
import { blobPath, OciLayout } from "./layout.js";

const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function withLayout(fn: (layout: OciLayout, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "layout-test-"));
  try {
    await fn(await OciLayout.create(dir), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function addManifest(layout: OciLayout, tag: string): Promise<string> {
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, tag }));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: digestOf(bytes),
        size: bytes.length,
      },
      layers: [],
    }),
  );
  await layout.putBlob({ digest: digestOf(bytes), size: bytes.length }, () =>
    Promise.resolve(Readable.from([bytes])),
  );
  await layout.putBlob({ digest: digestOf(manifest), size: manifest.length }, () =>
    Promise.resolve(Readable.from([manifest])),
  );
  await layout.putManifest(
    { bytes: manifest, mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digestOf(manifest) },
    { root: true, tag },
  );
  return digestOf(manifest);
}

test("index.json: each caller gets its own copy, and a change on disk is seen at once", async () => {
  await withLayout(async (layout) => {
    await addManifest(layout, "one");
    const a = await layout.index();
    a.manifests.push(a.manifests[0]!);
    a.manifests.length = 0;
    const b = await layout.index();
    assert.equal(b.manifests.length, 1, "the first caller's changes are its own");
    // A change on disk (another writer, or this one) is seen at once.
    await addManifest(layout, "two");
    assert.deepEqual((await layout.tags()).sort(), ["one", "two"]);
  });
});

test("small blobs are read whole and verified", async () => {
  await withLayout(async (layout, dir) => {
    const good = Buffer.from("config bytes");
    const desc = { digest: digestOf(good), size: good.length };
    await layout.putBlob(desc, () => Promise.resolve(Readable.from([good])));
    assert.deepEqual(await readSmallBlob(layout, { mediaType: "x", ...desc }), good);
    // Tampered on disk: same size, other bytes.
    await writeFile(join(dir, blobPath(desc.digest)), "CONFIG BYTES");
    await assert.rejects(readSmallBlob(layout, { mediaType: "x", ...desc }), (e: unknown) =>
      isBootforgeError(e),
    );
    // Truncated.
    await writeFile(join(dir, blobPath(desc.digest)), "config");
    await assert.rejects(readSmallBlob(layout, { mediaType: "x", ...desc }), /is 6 bytes, expected 12/);
    // Missing.
    await rm(join(dir, blobPath(desc.digest)));
    await assert.rejects(readSmallBlob(layout, { mediaType: "x", ...desc }), /is missing/);
  });
});

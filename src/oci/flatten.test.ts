/**
 * flattenImage keeps the PAX extended-attribute records of extension layers (SELinux labels),
 * checked by Python's tarfile as an independent reader of the flattened stream.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { after, test } from "node:test";
import tar from "tar-stream";
import { flattenImage, xattrRecords } from "./flatten.js";
import type { ResolvedImage } from "./image.js";

const LABEL = "system_u:object_r:bin_t:s0";
const SELINUX = "SCHILY.xattr.security.selinux";

let dir = "";
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

type Entry = { name: string; body?: string; type?: "file" | "directory"; pax?: Record<string, string> };

async function layer(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const out = buffer(pack);
  for (const e of entries) {
    // tar-stream's pack writes `pax` records when present (not in @types/tar-stream).
    const header = { name: e.name, type: e.type ?? "file", mode: 0o644, mtime: new Date(0), pax: e.pax };
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, e.body ?? "", (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  return out;
}

/** A single-platform image over in-memory uncompressed layers, bottom first. */
function image(layers: Buffer[]): ResolvedImage {
  const descs = layers.map((b) => ({
    mediaType: "application/vnd.oci.image.layer.v1.tar",
    digest: `sha256:${createHash("sha256").update(b).digest("hex")}`,
    size: b.length,
  }));
  const byDigest = new Map(descs.map((d, i) => [d.digest, layers[i]!]));
  return {
    source: {
      description: "memory",
      resolve: () => Promise.reject(new Error("unused")),
      manifest: () => Promise.reject(new Error("unused")),
      blob: (d: { digest: string }) => Promise.resolve(Readable.from([byDigest.get(d.digest)!])),
    },
    manifest: { layers: descs },
  } as unknown as ResolvedImage;
}

test("flatten keeps PAX xattr records (SELinux labels) and drops other PAX records", async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-flatten-"));
  const lower = await layer([
    { name: "usr/", type: "directory", pax: { [SELINUX]: "system_u:object_r:usr_t:s0" } },
    { name: "usr/bin/hidden", body: "old", pax: { [SELINUX]: "old" } },
  ]);
  const upper = await layer([
    {
      name: "usr/bin/hidden",
      body: "new",
      pax: { [SELINUX]: LABEL, "LIBARCHIVE.xattr.user.note": "kept", comment: "not an xattr" },
    },
    { name: "usr/local/plain", body: "no pax" },
  ]);
  const flat = join(dir, "flat.tar");
  await writeFile(flat, await buffer(flattenImage(image([lower, upper]))));
  const script = [
    "import json, sys, tarfile",
    "t = tarfile.open(sys.argv[1])",
    "print(json.dumps({m.name: m.pax_headers for m in t.getmembers()}))",
  ].join("\n");
  const seen = JSON.parse(execFileSync("python3", ["-c", script, flat], { encoding: "utf8" })) as Record<
    string,
    Record<string, string>
  >;
  assert.deepEqual(seen["usr/bin/hidden"], {
    path: "usr/bin/hidden",
    [SELINUX]: LABEL,
    "LIBARCHIVE.xattr.user.note": "kept",
  });
  assert.deepEqual(seen["usr"], { path: "usr/", [SELINUX]: "system_u:object_r:usr_t:s0" });
  assert.deepEqual(seen["usr/local/plain"], {}, "entries without xattrs stay plain ustar");
});

test("xattrRecords keeps text xattrs and drops values tar-stream could not decode", () => {
  assert.equal(xattrRecords(null), undefined);
  assert.equal(xattrRecords({ path: "a", size: "3" }), undefined);
  assert.deepEqual(
    xattrRecords({ [SELINUX]: `${LABEL}\0`, "SCHILY.xattr.security.capability": "\u0001\uFFFD" }),
    {
      [SELINUX]: `${LABEL}\0`,
    },
  );
});

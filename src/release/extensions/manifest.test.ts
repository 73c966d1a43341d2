import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, symlink, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { readVectors } from "../../../test/helpers/shared.js";
import { parseTalosVersion } from "../../profile/version.js";
import { checkCompatibility, checkContents, loadExtension, parseManifest } from "./manifest.js";
import { parseVersionRange } from "./version-range.js";

interface TreeEntry {
  path: string;
  mode: string;
  content?: string;
  symlinkTarget?: string;
}
interface LoadCase {
  test: string;
  tree: TreeEntry[];
  talosVersion: string;
  expectedManifestName?: string;
  expectedLoadError: string | null;
  expectedValidateError: string | null;
}

const vectors = readVectors<{ loadValidate: LoadCase[] }>("catalogs/extension-manifests.json");

async function materialise(root: string, tree: TreeEntry[]) {
  for (const e of tree) {
    const p = join(root, e.path);
    await mkdir(dirname(p), { recursive: true });
    if (e.mode === "120000") await symlink(e.symlinkTarget!, p);
    else await writeFile(p, e.content ?? "");
  }
}

test("upstream Load/Validate vectors", async () => {
  for (const c of vectors.loadValidate) {
    const dir = await mkdtemp(join(tmpdir(), "bf-ext-"));
    try {
      await materialise(dir, c.tree);
      if (c.expectedLoadError !== null) {
        await assert.rejects(loadExtension(dir), (e: Error) => e.message === c.expectedLoadError, c.test);
        continue;
      }
      const ext = await loadExtension(dir);
      if (c.expectedManifestName !== undefined)
        assert.equal(ext.manifest.metadata.name, c.expectedManifestName);
      const run = async () => {
        checkCompatibility(ext.manifest, parseTalosVersion(c.talosVersion)!);
        await checkContents(ext);
      };
      if (c.expectedValidateError === null) await run();
      else await assert.rejects(run(), (e: Error) => e.message === c.expectedValidateError, c.test);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test("version constraints in blang syntax", () => {
  const v = (s: string) => parseTalosVersion(s)!;
  assert.ok(parseVersionRange(">= v1.0.0").matches(v("1.9.0")));
  assert.ok(parseVersionRange(">=1.10.0 <1.12.0").matches(v("1.11.3")));
  assert.ok(!parseVersionRange(">=1.10.0 <1.12.0").matches(v("1.12.0")));
  assert.ok(parseVersionRange("<1.5.0 || >=1.10.0").matches(v("1.4.0")));
  assert.ok(!parseVersionRange("<1.5.0 || >=1.10.0").matches(v("1.7.0")));
  assert.ok(parseVersionRange("1.2.3").matches(v("1.2.3")));
  assert.ok(parseVersionRange("!=1.2.3").matches(v("1.2.4")));
  assert.throws(() => parseVersionRange(">= banana"), /invalid version constraint/);
  assert.throws(() => parseVersionRange(">=1.0"), /invalid version constraint/);
  assert.throws(() => parseVersionRange("||"), /empty alternative/);
});

test("compatibility errors are upstream's, against the core version", () => {
  const m = parseManifest(
    "version: v1alpha1\nmetadata:\n  name: x\n  compatibility:\n    talos:\n      version: '>= v1.10.0'\n",
  );
  assert.throws(
    () => checkCompatibility(m, parseTalosVersion("v1.9.0-alpha.1")!),
    (e: Error) => e.message === "version constraint >= v1.10.0 can't be satisfied with Talos version 1.9.0",
  );
  checkCompatibility(m, parseTalosVersion("v1.10.0-alpha.1")!);
});

test("content rules reject device-like and world-writable entries", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bf-ext-"));
  try {
    await materialise(dir, [
      { path: "manifest.yaml", mode: "100644", content: "version: v1alpha1\nmetadata:\n  name: x\n" },
      { path: "rootfs/usr/local/bin/tool", mode: "100644" },
    ]);
    await chmod(join(dir, "rootfs/usr/local/bin/tool"), 0o666);
    await assert.rejects(checkContents(await loadExtension(dir)), /world-writable/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a manifest that is a symlink is refused, never followed", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bf-ext-"));
  try {
    await writeFile(join(dir, "host-file"), "version: v1alpha1\nmetadata:\n  name: host\n");
    const ext = join(dir, "ext");
    await mkdir(join(ext, "rootfs"), { recursive: true });
    await symlink(join(dir, "host-file"), join(ext, "manifest.yaml"));
    await assert.rejects(loadExtension(ext), /manifest\.yaml is not a regular file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

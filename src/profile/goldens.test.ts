import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readVectors, sharedPath } from "../../test/helpers/shared.js";
import { BUILTIN_PROFILE_NAMES, builtinProfile } from "./builtin.js";
import { fillInputDefaults, fillOutputDefaults } from "./defaults.js";
import type { OutputKind, Profile } from "./model.js";
import { dumpProfile } from "./serialize.js";
import { validateProfile } from "./validate.js";

interface GoldenIndex {
  versions: string[];
  files: { file: string; profile: string; arch: string; version: string; secureboot: boolean }[];
}

/** What upstream's TestFillDefaults does for one golden (see vectors/profiles/README.md). */
function goldenProfile(name: string, arch: string, version: string): Profile {
  const p = builtinProfile(name);
  assert.ok(p, `built-in profile ${name}`);
  p.arch = arch;
  p.version = version;
  const sb = name.startsWith("secureboot");
  p.input = fillInputDefaults(p.input, arch, version, sb);
  p.output = fillOutputDefaults(p.output, arch, version, sb);
  validateProfile(p);
  return p;
}

const index = readVectors<GoldenIndex>("profiles/index.json");

test("there are 32 built-in profiles and the goldens cover each of them", () => {
  assert.equal(BUILTIN_PROFILE_NAMES.length, 32);
  assert.deepEqual([...new Set(index.files.map((f) => f.profile))].sort(), [...BUILTIN_PROFILE_NAMES]);
  assert.equal(index.files.length, 256);
});

for (const version of index.versions) {
  test(`every golden for Talos ${version} is reproduced byte for byte`, () => {
    const files = index.files.filter((f) => f.version === version);
    assert.equal(files.length, 64);
    for (const g of files) {
      assert.equal(g.secureboot, g.profile.startsWith("secureboot"));
      const expected = readFileSync(sharedPath("vectors", "profiles", g.file), "utf8");
      assert.equal(dumpProfile(goldenProfile(g.profile, g.arch, g.version)), expected, g.file);
    }
  });
}

interface BootloaderCase {
  test: string;
  arch: string;
  version: string;
  secureboot: boolean;
  image: { input: { kind: OutputKind }; expectedBootloader: string };
  iso: { input: { kind: OutputKind }; expectedIsoOptions: unknown };
}

test("bootloader selection follows output_test.go", () => {
  const v = readVectors<{ bootloaderSetting: BootloaderCase[] }>("profiles/bootloader-selection.json");
  assert.ok(v.bootloaderSetting.length > 0);
  for (const c of v.bootloaderSetting) {
    const img = fillOutputDefaults({ kind: c.image.input.kind }, c.arch, c.version, c.secureboot);
    assert.equal(img.imageOptions?.bootloader, c.image.expectedBootloader, c.test);
    const iso = fillOutputDefaults({ kind: c.iso.input.kind }, c.arch, c.version, c.secureboot);
    assert.deepEqual(iso.isoOptions ?? null, c.iso.expectedIsoOptions, c.test);
  }
});

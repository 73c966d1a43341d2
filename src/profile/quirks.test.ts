import { test } from "node:test";
import assert from "node:assert/strict";
import { Quirks } from "./quirks.js";
import { compareVersions, parseTalosVersion } from "./version.js";

test("tolerant parsing", () => {
  assert.deepEqual(parseTalosVersion("v1.10"), { major: 1, minor: 10, patch: 0, prerelease: "" });
  assert.deepEqual(parseTalosVersion("1.11.0-alpha.3"), {
    major: 1,
    minor: 11,
    patch: 0,
    prerelease: "alpha.3",
  });
  assert.equal(parseTalosVersion("latest"), undefined);
  assert.equal(parseTalosVersion("1.x"), undefined);
  assert.equal(parseTalosVersion(""), undefined);
});

test("ordering puts prereleases before releases", () => {
  const sorted = ["v1.10.0", "v1.10.0-alpha.1", "v1.9.5", "v1.10.0-beta.0", "v1.10.0-alpha.10"]
    .map((s) => ({ s, v: parseTalosVersion(s)! }))
    .sort((a, b) => compareVersions(a.v, b.v))
    .map((x) => x.s);
  assert.deepEqual(sorted, ["v1.9.5", "v1.10.0-alpha.1", "v1.10.0-alpha.10", "v1.10.0-beta.0", "v1.10.0"]);
});

test("quirks ignore prereleases and follow the version table", () => {
  assert.equal(new Quirks("v1.11.0-alpha.3").useLargeBootPartition, true);
  assert.equal(new Quirks("1.10.5").useLargeBootPartition, false);
  assert.equal(new Quirks("1.10.9").supportsIMA, true);
  assert.equal(new Quirks("1.11.0").supportsIMA, false);
  assert.equal(new Quirks("1.6.2").supportsCompressedEncodedMETA, false);
  assert.equal(new Quirks("1.6.3").supportsCompressedEncodedMETA, true);
  assert.equal(new Quirks("1.7.9").supportsMetalPlatformConsoleTTYS0, true);
  assert.equal(new Quirks("1.8.0").supportsMetalPlatformConsoleTTYS0, false);
  assert.equal(new Quirks("1.9.0").xfsConfigFile, "lts_6.6.conf");
  assert.equal(new Quirks("1.12.0").xfsConfigFile, "lts_6.12.conf");
  assert.equal(new Quirks("1.4.0").xfsConfigFile, "lts_6.1.conf");
});

test("unparseable versions mean latest, except the explicit false quirks", () => {
  const q = new Quirks("not-a-version");
  assert.equal(q.supportsUKI, true);
  assert.equal(q.supportsModuleSigEnforce, true);
  assert.equal(q.useSDBootForUEFI, false);
  assert.equal(q.supportsMetalPlatformConsoleTTYS0, false);
  assert.equal(q.supportsIMA, false);
  assert.equal(q.forcesLockdownConfidentiality, false);
});

test("partition sizes: BOOT 1000 MiB before 1.11, 2000 MiB from 1.11 and for unparseable versions", () => {
  const MiB = 1024 * 1024;
  assert.equal(new Quirks("1.10.9").partitionSizes.grubBootSize, 1000 * MiB);
  assert.equal(new Quirks("v1.11.0").partitionSizes.grubBootSize, 2000 * MiB);
  assert.equal(new Quirks("garbage").partitionSizes.grubBootSize, 2000 * MiB);
  assert.equal(new Quirks("1.11.0").partitionSizes.ukiEFISize, 2101 * MiB);
  assert.equal(new Quirks("1.13.0").xfsMinAllocationGroupSize, 0);
  assert.equal(new Quirks("1.14.0").xfsMinAllocationGroupSize, 64 * 1024 * MiB);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAssetPath } from "./asset-path.js";
import { BUILTIN_PROFILE_NAMES, builtinProfile } from "./builtin.js";
import { isStrictImageReference, normalizeTalosVersion } from "./imager-flags.js";
import {
  CLOUD_PLATFORMS,
  cloudPlatformsFor,
  isKnownPlatform,
  METAL_PLATFORM,
  notOnlyDiskImage,
  platformAssets,
  platformInfo,
} from "./platforms.js";

test("catalogue: metal first-class, 18 clouds in upstream order, suffixes and SecureBoot", () => {
  assert.deepEqual(METAL_PLATFORM.bootMethods, ["iso", "disk-image", "pxe"]);
  assert.equal(CLOUD_PLATFORMS.length, 18);
  assert.deepEqual(
    CLOUD_PLATFORMS.slice(0, 4).map((p) => p.name),
    ["aws", "gcp", "equinixMetal", "azure"],
  );
  assert.deepEqual(
    [...CLOUD_PLATFORMS, METAL_PLATFORM].filter((p) => p.secureBootSupported).map((p) => p.name),
    ["azure", "nocloud", "cloudstack", "metal"],
  );
  assert.equal(platformInfo("digital-ocean")?.diskImageSuffix, "raw.gz");
  assert.deepEqual(platformInfo("digital-ocean")?.architectures, ["amd64"]);
  assert.equal(platformInfo("equinixMetal")?.diskImageSuffix, undefined);
  assert.equal(notOnlyDiskImage(platformInfo("aws")!), false);
  assert.equal(notOnlyDiskImage(platformInfo("vultr")!), true);
});

test("minimum versions filter the cloud list (prereleases ordered as semver)", () => {
  const names = (v: string) => cloudPlatformsFor(v).map((p) => p.name);
  assert.ok(!names("v1.6.0").includes("akamai"));
  assert.ok(names("v1.7.0").includes("akamai"));
  assert.ok(!names("v1.8.0-alpha.1").includes("cloudstack"));
  assert.ok(names("v1.8.0-alpha.2").includes("cloudstack"));
  assert.ok(!names("v1.14.0-beta.1").includes("alibabacloud"));
  assert.ok(names("v1.14.0").includes("alibabacloud"));
});

test("every catalogue asset name parses back through the factory grammar", () => {
  for (const p of [METAL_PLATFORM, ...CLOUD_PLATFORMS]) {
    assert.ok(isKnownPlatform(p.name), p.name);
    for (const arch of p.architectures) {
      for (const sb of p.secureBootSupported ? [false, true] : [false]) {
        if (p.diskImageSuffix) {
          const disk = parseAssetPath(platformAssets.diskImage(p, arch, sb));
          assert.deepEqual([disk.platform, disk.arch, disk.secureboot === true], [p.name, arch, sb]);
          assert.equal(disk.output?.kind, "image");
        }
        assert.equal(parseAssetPath(platformAssets.iso(p, arch, sb)).output?.kind, "iso");
        assert.equal(parseAssetPath(platformAssets.uki(p, arch, sb)).output?.kind, "uki");
        assert.equal(parseAssetPath(`cmdline-${platformAssets.pxeScript(p, arch, sb)}`).platform, p.name);
      }
      assert.equal(parseAssetPath(platformAssets.kernel(p, arch)).output?.kind, "kernel");
      assert.equal(parseAssetPath(platformAssets.initramfs(p, arch)).output?.kind, "initramfs");
      assert.equal(platformAssets.cmdline(p, arch), `cmdline-${p.name}-${arch}`);
    }
  }
});

test("every built-in profile targets a platform Talos knows", () => {
  for (const name of BUILTIN_PROFILE_NAMES) assert.ok(isKnownPlatform(builtinProfile(name)!.platform!), name);
  assert.equal(isKnownPlatform("nutanix"), false);
});

test("--image-cache: fully specified references vs OCI layout paths", () => {
  for (const ref of [
    "ghcr.io/me/cache:v1",
    "localhost:5000/cache:latest",
    "localhost/cache:v1",
    "registry.local/a/b/c@sha256:" + "0".repeat(64),
  ]) {
    assert.ok(isStrictImageReference(ref), ref);
  }
  for (const path of [
    "/tmp/cache",
    "./cache",
    "cache",
    "ghcr.io/me/cache",
    "me/cache:v1",
    "ghcr.io/Me/cache:v1",
  ]) {
    assert.ok(!isStrictImageReference(path), path);
  }
});

test("--talos-version gets the v the imager's own tag has", () => {
  assert.equal(normalizeTalosVersion("1.11.0"), "v1.11.0");
  assert.equal(normalizeTalosVersion("v1.12.0-beta.1"), "v1.12.0-beta.1");
  assert.throws(() => normalizeTalosVersion("latest"), /invalid --talos-version/);
});

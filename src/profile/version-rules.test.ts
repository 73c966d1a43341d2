// The goldens leave out 1.10, 1.12 and 1.14 on purpose: these tests pin the reference rules
// (imager.md §2.3–2.6) for those versions, each against its neighbours' goldens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { sharedPath } from "../../test/helpers/shared.js";
import { builtinProfile } from "./builtin.js";
import { fillInputDefaults, fillOutputDefaults, selectBootloader } from "./defaults.js";
import { MiB, type Profile } from "./model.js";
import { dumpProfile } from "./serialize.js";
import { validateProfile } from "./validate.js";

function filled(name: string, arch: string, version: string): Profile {
  const p = builtinProfile(name)!;
  p.arch = arch;
  p.version = version;
  const sb = name.startsWith("secureboot");
  p.input = fillInputDefaults(p.input, arch, version, sb);
  p.output = fillOutputDefaults(p.output, arch, version, sb);
  validateProfile(p);
  return p;
}

const golden = (name: string, arch: string, version: string) =>
  readFileSync(sharedPath("vectors", "profiles", `${name}-${arch}-${version}.yaml`), "utf8");

test("1.10 amd64 metal: dual-boot, installer-base, BOOT still 1000 MiB", () => {
  const p = filled("metal", "amd64", "1.10.0");
  assert.equal(p.output?.imageOptions?.bootloader, "dual-boot");
  assert.equal(p.output?.imageOptions?.diskSize, 2247 * MiB);
  assert.equal(p.input?.baseInstaller?.imageRef, "ghcr.io/siderolabs/installer-base:1.10.0");
  assert.equal(p.output?.isoOptions, undefined);
});

test("1.10 arm64 and secureboot images use sd-boot without growth", () => {
  assert.equal(filled("metal", "arm64", "1.10.0").output?.imageOptions?.diskSize, 1246 * MiB);
  assert.equal(filled("metal", "arm64", "1.10.0").output?.imageOptions?.bootloader, "sd-boot");
  const sb = filled("secureboot-metal", "amd64", "1.10.0").output?.imageOptions;
  assert.deepEqual([sb?.bootloader, sb?.diskSize], ["sd-boot", 1246 * MiB]);
  assert.equal(filled("aws", "amd64", "1.10.0").output?.imageOptions?.diskSize, 9193 * MiB);
  assert.equal(filled("exoscale", "amd64", "1.10.0").output?.imageOptions?.diskSize, 11241 * MiB);
});

test("1.10 goldens differ from 1.11 only in version text and disk size", () => {
  for (const [name, arch] of [
    ["metal", "amd64"],
    ["vmware", "arm64"],
    ["secureboot-azure", "amd64"],
    ["iso", "amd64"],
  ] as const) {
    const expected = golden(name, arch, "1.11.0")
      .replaceAll("1.11.0", "1.10.0")
      .replace(/diskSize: (\d+)/, (_, n: string) => {
        const bootloader = /bootloader: (\S+)/.exec(golden(name, arch, "1.11.0"))?.[1];
        // 1.10 has a 1000 MiB BOOT: 1000 MiB less, twice for dual-boot (BOOT counted twice).
        return `diskSize: ${Number(n) - (bootloader === "dual-boot" ? 2000 : 1000) * MiB}`;
      });
    assert.equal(dumpProfile(filled(name, arch, "1.10.0")), expected, `${name}-${arch}`);
  }
});

test("1.12 ISOs get isoOptions with a bootloader; 1.12 and 1.14 match the 1.13 and 1.15 goldens", () => {
  const iso = filled("iso", "amd64", "1.12.0").output?.isoOptions;
  assert.deepEqual(iso, { bootloader: "dual-boot" });
  assert.deepEqual(filled("iso", "arm64", "1.12.0").output?.isoOptions, { bootloader: "sd-boot" });
  assert.deepEqual(filled("secureboot-iso", "amd64", "1.12.0").output?.isoOptions, {
    sdBootEnrollKeys: "if-safe",
    bootloader: "sd-boot",
  });
  assert.equal(filled("iso", "amd64", "1.11.0").output?.isoOptions, undefined);
  for (const name of ["iso", "secureboot-iso", "metal", "metal-4k", "gcp", "installer", "metal-uki"]) {
    for (const arch of ["amd64", "arm64"]) {
      assert.equal(
        dumpProfile(filled(name, arch, "1.12.0")),
        golden(name, arch, "1.13.0").replaceAll("1.13.0", "1.12.0"),
      );
      assert.equal(
        dumpProfile(filled(name, arch, "1.14.0")),
        golden(name, arch, "1.15.0").replaceAll("1.15.0", "1.14.0"),
      );
    }
  }
});

test("bootloader rules: explicit choice kept unless secureboot; unparseable version means grub", () => {
  assert.equal(selectBootloader("grub", "amd64", "1.12.0", false), "grub");
  assert.equal(selectBootloader("grub", "amd64", "1.12.0", true), "sd-boot");
  assert.equal(selectBootloader(undefined, "amd64", "not-a-version", false), "grub");
  assert.equal(selectBootloader(undefined, "amd64", "v1.10.0-alpha.1", false), "dual-boot");
  assert.equal(selectBootloader("none", "arm64", "1.9.0", false), "grub");
});

test("before 1.10 the base installer is the full installer image", () => {
  assert.equal(
    filled("installer", "amd64", "1.9.5").input?.baseInstaller?.imageRef,
    "ghcr.io/siderolabs/installer:1.9.5",
  );
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { isBootforgeError, type BootforgeError } from "../errors/index.js";
import { builtinProfile } from "./builtin.js";
import { parseProfileYaml } from "./decode.js";
import { mergeProfiles } from "./merge.js";
import { MIN_RAW_DISK_SIZE, MiB, parseMetaValue, parseOutputKind, type Profile } from "./model.js";
import { finalOutputPath, outputPath } from "./output-path.js";
import { resolveProfile } from "./resolve.js";
import { dumpProfile } from "./serialize.js";
import { validateProfile } from "./validate.js";

function thrown(fn: () => unknown): BootforgeError {
  try {
    fn();
  } catch (e) {
    assert.ok(isBootforgeError(e), `a BootforgeError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected an error");
}

test("merge: non-zero scalars override, zero ones do not, lists concatenate", () => {
  const base: Profile = {
    platform: "metal",
    customization: { extraKernelArgs: ["a"] },
    output: { kind: "image" },
  };
  const m = mergeProfiles(base, {
    platform: "",
    arch: "arm64",
    customization: { extraKernelArgs: ["b", "c"] },
  });
  assert.deepEqual(m, {
    platform: "metal",
    arch: "arm64",
    customization: { extraKernelArgs: ["a", "b", "c"] },
    output: { kind: "image" },
  });
  assert.deepEqual(base.customization?.extraKernelArgs, ["a"], "inputs are not modified");
});

test("merge: *bool overwritten even with false, nil keeps; plain bools always override", () => {
  assert.equal(mergeProfiles({ secureboot: true }, { secureboot: false }).secureboot, false);
  assert.equal(mergeProfiles({ secureboot: true }, {}).secureboot, true);
  const m = mergeProfiles(
    { input: { baseInstaller: { imageRef: "x", forceInsecure: true } } },
    { input: { baseInstaller: { imageRef: "" } } },
  );
  assert.deepEqual(m.input?.baseInstaller, { imageRef: "x" });
});

test("merge: pointer structs merge field by field (enroll keys keep the disk size)", () => {
  const base = builtinProfile("metal")!;
  const m = mergeProfiles(base, { output: { imageOptions: { sdBootEnrollKeys: "force" } } });
  assert.deepEqual(m.output?.imageOptions, {
    diskSize: MIN_RAW_DISK_SIZE,
    diskFormat: "raw",
    sdBootEnrollKeys: "force",
  });
  // A nil pointer on the left takes the right one as is.
  assert.deepEqual(mergeProfiles({}, { overlay: { name: "rpi" } }).overlay, { name: "rpi" });
});

test("merge: overlay option maps merge per key; type mismatches are errors", () => {
  const m = mergeProfiles(
    { overlay: { options: { a: "1", nested: { x: 1 }, list: [1] } } },
    { overlay: { options: { b: "2", nested: { y: 2 }, list: [2], a: "" } } },
  );
  assert.deepEqual(m.overlay?.options, { a: "1", b: "2", nested: { x: 1, y: 2 }, list: [1, 2] });
  const e = thrown(() =>
    mergeProfiles({ overlay: { options: { a: "s" } } }, { overlay: { options: { a: 1 } } }),
  );
  assert.equal(e.kind, "invalid-input");
});

test("resolveProfile = handleProf: base, merge, name/version, defaults, validation", () => {
  const p = resolveProfile(
    { baseProfileName: "aws", arch: "arm64", customization: { extraKernelArgs: ["x=1"] } },
    { defaultVersion: "v1.11.0" },
  );
  assert.equal(p.baseProfileName, undefined);
  assert.equal(p.name, "Talos");
  assert.equal(p.version, "v1.11.0");
  assert.equal(p.input?.baseInstaller?.imageRef, "ghcr.io/siderolabs/installer-base:v1.11.0");
  assert.deepEqual(p.output?.imageOptions, {
    diskSize: 9192 * MiB,
    diskFormat: "raw",
    bootloader: "sd-boot",
  });
  assert.equal(outputPath(p), "aws-arm64.raw");
  assert.equal(finalOutputPath(p), "aws-arm64.raw.zst");
  // The profile's own version wins over the default one; extra profiles win over built-ins.
  assert.equal(resolveProfile({ ...p, version: "1.9.0" }, { defaultVersion: "v1.11.0" }).version, "1.9.0");
  const extra = resolveProfile(
    { baseProfileName: "metal", arch: "arm64" },
    {
      defaultVersion: "v1.12.0",
      extraProfiles: { metal: { platform: "metal", output: { kind: "uki", outFormat: "raw" } } },
    },
  );
  assert.equal(outputPath(extra), "metal-arm64-uki.efi");
});

test("resolveProfile errors carry upstream messages and exit codes", () => {
  const cases: [Profile, string, number][] = [
    [{ baseProfileName: "nope" }, "unknown base profile: nope", 2],
    [{ baseProfileName: "metal", arch: "x86" }, 'profile is invalid: invalid arch "x86"', 2],
    [{ baseProfileName: "metal", arch: "amd64", platform: "" }, "", 0],
    [
      { arch: "amd64", output: { kind: "iso", outFormat: "raw" } },
      "profile is invalid: platform is required",
      2,
    ],
    [
      { baseProfileName: "secureboot-metal", arch: "amd64", version: "v1.4.0" },
      'profile is invalid: secureboot is not supported for Talos version "v1.4.0"',
      2,
    ],
    [{ arch: "amd64", platform: "metal" }, "profile is invalid: unknown output kind", 2],
    [
      {
        baseProfileName: "installer",
        arch: "amd64",
        customization: { metaContents: [{ key: 10, value: "x" }] },
      },
      "profile is invalid: customization of meta partition is not supported for installer output",
      2,
    ],
    [
      { baseProfileName: "metal", arch: "amd64", output: { kind: "kernel" }, secureboot: true },
      "profile is invalid: secureboot is not supported for kernel output",
      2,
    ],
    [
      {
        baseProfileName: "iso",
        arch: "amd64",
        output: { kind: "initramfs" },
        customization: { extraKernelArgs: ["a"] },
      },
      "profile is invalid: customization of kernel args is not supported for initramfs output",
      2,
    ],
    [{ baseProfileName: "metal", arch: "amd64", platform: "mars" }, 'unknown platform: "mars"', 2],
    [
      { baseProfileName: "metal-uki", arch: "amd64", version: "v1.4.0" },
      "UKI output is not supported in this Talos version",
      3,
    ],
    [{ arch: "amd64", platform: "metal", output: { kind: "cmdline" } }, "unknown output format: unknown", 2],
    [
      {
        arch: "amd64",
        platform: "aws",
        output: { kind: "image", outFormat: "raw", imageOptions: { diskSize: 1 } },
      },
      "unsupported disk format: unknown",
      3,
    ],
  ];
  for (const [input, message, code] of cases) {
    if (message === "") {
      assert.equal(
        resolveProfile(input, { defaultVersion: "v1.11.0" }).platform,
        "metal",
        "empty platform keeps base",
      );
      continue;
    }
    const e = thrown(() => resolveProfile(input, { defaultVersion: "v1.11.0" }));
    assert.ok(e.message.startsWith(message), `${e.message} ≠ ${message}`);
    assert.equal(e.exitCode, code, message);
  }
  const noVersion = thrown(() => resolveProfile({ baseProfileName: "metal", arch: "amd64" }));
  assert.equal(noVersion.kind, "invalid-input");
  // Upstream's own Validate split, before handleProf wraps it as invalid input.
  assert.equal(
    thrown(() =>
      validateProfile({
        arch: "amd64",
        platform: "metal",
        version: "1.4",
        secureboot: true,
        output: { kind: "uki" },
      }),
    ).kind,
    "unsupported",
  );
});

test("FillDefaults is not idempotent, exactly like upstream (a dumped profile grows again)", () => {
  const once = resolveProfile({ baseProfileName: "metal", arch: "amd64" }, { defaultVersion: "v1.11.0" });
  const twice = resolveProfile(parseProfileYaml(dumpProfile(once)));
  assert.equal(twice.output!.imageOptions!.diskSize! - once.output!.imageOptions!.diskSize!, 3001 * MiB);
});

test("strict profile YAML: round trip, unknown keys and bad values name the line", () => {
  const p = resolveProfile(
    { baseProfileName: "secureboot-iso", arch: "arm64" },
    { defaultVersion: "v1.12.0" },
  );
  assert.deepEqual(parseProfileYaml(dumpProfile(p)), p);
  const unknown = thrown(() => parseProfileYaml("arch: amd64\noutput:\n  kind: iso\n  bogus: 1\n"));
  assert.equal(unknown.line, 4);
  assert.match(unknown.message, /line 4: unknown field "bogus" in output/);
  const dup = thrown(() => parseProfileYaml("arch: amd64\narch: arm64\n"));
  assert.equal(dup.line, 2);
  const kind = thrown(() => parseProfileYaml("output:\n  kind: floppy\n"));
  assert.match(kind.message, /line 2: floppy does not belong to OutputKind values/);
  assert.match(
    thrown(() => parseProfileYaml("output:\n  outFormat: xz\n")).message,
    /xz does not belong to OutFormat/,
  );
  assert.match(
    thrown(() => parseProfileYaml("customization:\n  metaContents:\n    - key: 256\n      value: x\n"))
      .message,
    /line 3/,
  );
  assert.equal(parseProfileYaml("version: 1.10\nsecureboot: yes\n").version, "1.10");
  assert.equal(parseProfileYaml("secureboot: null\n").secureboot, undefined);
  assert.deepEqual(parseProfileYaml("output:\n  isoOptions: {}\n").output, { isoOptions: {} });
  assert.equal(thrown(() => parseProfileYaml("")).kind, "invalid-input");
});

test("enum and META parsing follow enumer and strconv", () => {
  assert.equal(parseOutputKind("ISO"), "iso");
  assert.equal(
    thrown(() => parseOutputKind("floppy")).message,
    "floppy does not belong to OutputKind values",
  );
  assert.deepEqual(parseMetaValue("0xa=x=y"), { key: 10, value: "x=y" });
  assert.deepEqual(parseMetaValue("0o12="), { key: 10, value: "" });
  assert.deepEqual(parseMetaValue("0b1010=v"), { key: 10, value: "v" });
  assert.deepEqual(parseMetaValue("012=v"), { key: 10, value: "v" });
  assert.equal(thrown(() => parseMetaValue("256=v")).message, 'invalid key "256"');
  assert.equal(thrown(() => parseMetaValue("novalue")).message, 'invalid value "novalue"');
});

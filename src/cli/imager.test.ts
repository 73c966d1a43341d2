import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, sharedPath } from "../../test/helpers/shared.js";

function imager(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, "bin", "imager.js"), ...args], {
    cwd: REPO_ROOT,
    input,
    encoding: "utf8",
    env: { ...process.env, NODE_NO_WARNINGS: "1" },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("--dry-run prints the resolved profile: the golden plus name and the v-prefixed version", () => {
  const r = imager(["secureboot-metal", "--arch", "arm64", "--talos-version", "1.13.0", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  const golden = readFileSync(sharedPath("vectors", "profiles", "secureboot-metal-arm64-1.13.0.yaml"), "utf8")
    .replaceAll("1.13.0", "v1.13.0")
    .replace("version: v1.13.0", "name: Talos\nversion: v1.13.0");
  assert.equal(r.stdout, golden);
  assert.equal(r.stderr, "");
});

test("flags map onto the profile as upstream's CLI does", () => {
  const r = imager([
    "metal",
    "--arch=amd64",
    "--talos-version=v1.12.0",
    "--platform",
    "nocloud",
    "--extra-kernel-arg",
    "console=ttyS1 -console",
    "--extra-kernel-arg",
    "nolapic",
    "--meta",
    "0xa=abc",
    "--system-extension-image",
    "ghcr.io/siderolabs/gvisor:20231214.0-v1.12.0",
    "--base-installer-image",
    "registry.local:5000/installer-base:v1.12.0",
    "--insecure",
    "--image-cache",
    "ghcr.io/me/cache:v1",
    "--output-kind",
    "ISO",
    "--secureboot-enroll-keys",
    "manual",
    "--dry-run",
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /^platform: nocloud$/m);
  assert.match(out, /extraKernelArgs:\n {4}- console=ttyS1 -console\n {4}- nolapic\n/);
  assert.match(out, /metaContents:\n {4}- key: 10\n {6}value: abc\n/);
  assert.match(
    out,
    /baseInstaller:\n {4}imageRef: registry.local:5000\/installer-base:v1.12.0\n {4}forceInsecure: true\n/,
  );
  assert.match(out, /imageCache:\n {4}imageRef: ghcr.io\/me\/cache:v1\n {4}forceInsecure: true\n/);
  assert.match(
    out,
    /systemExtensions:\n {4}- imageRef: ghcr.io\/siderolabs\/gvisor:20231214.0-v1.12.0\n {6}forceInsecure: true\n/,
  );
  // --output-kind is case-insensitive; the ISO on 1.12 gets isoOptions, enroll keys land in both.
  assert.match(
    out,
    /output:\n {2}kind: iso\n {2}imageOptions:\n {4}diskSize: \d+\n {4}diskFormat: raw\n {4}sdBootEnrollKeys: manual\n {2}isoOptions:\n {4}sdBootEnrollKeys: manual\n {4}bootloader: dual-boot\n/,
  );
});

test("a profile on stdin (-) is decoded strictly and other flags are ignored", () => {
  const yaml =
    "arch: arm64\nplatform: metal\nsecureboot: false\noutput:\n  kind: cmdline\n  outFormat: raw\n";
  const r = imager(["-", "--talos-version", "v1.11.0", "--platform", "aws", "--dry-run"], yaml);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^platform: metal$/m);
  assert.match(r.stdout, /^version: v1.11.0$/m);
  const bad = imager(["-", "--talos-version", "v1.11.0", "--dry-run"], yaml + "extra: 1\n");
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /line 7: unknown field "extra"/);
});

test("files named by flags are read: overlay options and embedded config", () => {
  const dir = mkdtempSync(join(tmpdir(), "imager-test-"));
  try {
    writeFileSync(join(dir, "opts.yaml"), "configTxtAppend: dtoverlay=vc4\nn: 3\n");
    writeFileSync(join(dir, "config.yaml"), "machine: {}\n");
    const r = imager([
      "metal",
      "--arch",
      "arm64",
      "--talos-version",
      "v1.12.0",
      "--overlay-name",
      "rpi_generic",
      "--overlay-image",
      "ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0",
      "--overlay-option",
      `@${join(dir, "opts.yaml")}`,
      "--overlay-option",
      "a=b",
      "--embedded-config-path",
      join(dir, "config.yaml"),
      "--dry-run",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /embeddedMachineConfiguration: \|\n {4}machine: \{\}\n/);
    assert.match(r.stdout, /overlayInstaller:\n {4}imageRef: ghcr.io\/siderolabs\/sbc-raspberrypi:v0.1.0\n/);
    // go-yaml quotes keys that YAML 1.1 reads as booleans, such as n.
    assert.match(
      r.stdout,
      /overlay:\n {2}name: rpi_generic\n {2}image:\n {4}imageRef: ghcr.io\/siderolabs\/sbc-raspberrypi:v0.1.0\n {2}options:\n {4}a: b\n {4}configTxtAppend: dtoverlay=vc4\n {4}'n': 3\n/,
    );
    const missing = imager([
      "metal",
      "--talos-version",
      "v1.12.0",
      "--embedded-config-path",
      join(dir, "nope"),
      "--dry-run",
    ]);
    assert.equal(missing.code, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad input: clear message on stderr, upstream exit codes, nothing on stdout", () => {
  const cases: [string[], number, RegExp][] = [
    [["metal", "--dry-run"], 2, /--talos-version is required/],
    [["metal", "--talos-version", "latest", "--dry-run"], 2, /invalid --talos-version/],
    [["nope", "--talos-version", "v1.11.0", "--dry-run"], 2, /^unknown base profile: nope$/m],
    [["metal", "--talos-version", "v1.11.0", "--arch", "riscv64", "--dry-run"], 2, /invalid arch "riscv64"/],
    [
      ["metal", "--talos-version", "v1.11.0", "--platform", "mars", "--dry-run"],
      2,
      /unknown platform: "mars"/,
    ],
    [
      ["metal", "--talos-version", "v1.11.0", "--output-kind", "floppy", "--dry-run"],
      2,
      /floppy does not belong/,
    ],
    [["metal", "--talos-version", "v1.11.0", "--meta", "300=x", "--dry-run"], 2, /invalid key "300"/],
    [
      ["metal", "--talos-version", "v1.11.0", "--secureboot-enroll-keys", "always", "--dry-run"],
      2,
      /enroll-keys/,
    ],
    [["metal", "--talos-version", "v1.11.0", "--no-such-flag"], 2, /unknown option/],
    [["metal-uki", "--talos-version", "v1.4.0", "--dry-run"], 3, /UKI output is not supported/],
  ];
  for (const [args, code, message] of cases) {
    const r = imager(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, "");
  }
});

test("--secureboot and --help", () => {
  const r = imager(["metal", "--arch", "amd64", "--talos-version", "v1.10.0", "--secureboot", "--dry-run"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^secureboot: true$/m);
  assert.match(r.stdout, /bootloader: sd-boot/);
  assert.match(r.stdout, /pcrSigner:\n {6}keyPath: \/secureboot\/pcr-signing-key.pem\n/);
  const off = imager(["secureboot-iso", "--talos-version", "v1.12.0", "--no-secureboot", "--dry-run"]);
  assert.match(off.stdout, /^secureboot: false$/m);
  const help = imager(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--talos-version/);
  assert.match(help.stdout, /--dry-run/);
  assert.match(help.stdout, /secureboot-metal-uki/);
});

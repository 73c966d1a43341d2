/**
 * The imager CLI for disk images, installers and overlays against the fixture release (an OCI
 * layout, no network), as the boot-assets guide runs it: upstream console lines and output names,
 * a metal image that boots under SeaBIOS/GRUB and reports extensions, META and command line,
 * cloud formats, an SBC overlay build, byte-identical rebuilds and no partial output on failure.
 * Installers are in ../installer/cli.test.ts, sparse images and the image cache in
 * cli-sparse-and-cache.test.ts.
 *
 * The builds are independent, so they all start in `before`, two at a time, and each test awaits
 * its own: builds overlap the QEMU boot and each other's single-threaded phases.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease, OVERLAY } from "../../fixtures/index.js";
import { imageFiles } from "../../fixtures/testing/layout-read.js";
import { readGpt } from "../../src/imager/disk/gpt-file.js";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { generateSecureBootKeys } from "../../src/imager/secureboot/keys.js";
import { boot } from "../qemu/boot.js";
import { assertLines, limiter, runImager, type ImagerRun } from "../helpers/run-imager.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const VERSION = "v1.11.0";
const HELLO = "ghcr.io/siderolabs/bootforge-hello:1.0.0";
const OVERLAY_REF = `ghcr.io/${OVERLAY.repo}:${OVERLAY.tag}`;
const OVERLAY_ARGS = [
  "console=tty0",
  "console=ttyAMA0,115200",
  "sysctl.kernel.kexec_load_disabled=1",
  "talos.dashboard.disabled=1",
];

const METAL_FLAGS = [
  "metal",
  "--arch",
  "amd64",
  "--system-extension-image",
  HELLO,
  "--meta",
  "0x0a=bootforge-meta",
  // QEMU's serial console is ttyS0, so the fixture's facts are readable there.
  "--extra-kernel-arg",
  "console=ttyS0",
];
const SB_METAL_FLAGS = () => [
  "secureboot-metal",
  "--arch",
  "amd64",
  "--secureboot-keys-dir",
  join(scratch, "keys"),
];
// As the guide's rpi_generic example: the base profile comes from the overlay image.
const OVERLAY_FLAGS = [
  OVERLAY.name,
  "--arch",
  "arm64",
  "--system-extension-image",
  HELLO,
  "--overlay-image",
  OVERLAY_REF,
  `--overlay-name=${OVERLAY.name}`,
];

let release = "";
let scratch = "";
const cacheDir = join(REPO, ".cache", "imager-test");

/** The builds the tests check, by name: arguments and output directory. */
const BUILDS = {
  metal: () => [METAL_FLAGS, join(scratch, "metal-a")],
  sbMetalA: () => [SB_METAL_FLAGS(), join(scratch, "sb-metal-a")],
  sbMetalB: () => [SB_METAL_FLAGS(), join(scratch, "sb-metal-b")],
  aws: () => [["aws", "--arch", "amd64"], join(scratch, "aws")],
  gcp: () => [["gcp", "--arch", "amd64"], join(scratch, "gcp")],
  vmware: () => [["vmware", "--arch", "amd64"], join(scratch, "vmware")],
  overlay: () => [OVERLAY_FLAGS, join(scratch, "overlay")],
} satisfies Record<string, () => [string[], string]>;
type BuildName = keyof typeof BUILDS;
const started = new Map<BuildName, Promise<Run>>();

/** The run of a build started in `before`. */
function built(name: BuildName): Promise<Run> {
  const p = started.get(name);
  assert.ok(p, `${name} was not started`);
  return p;
}

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-imager2-cli-"));
  await generateSecureBootKeys(join(scratch, "keys"), {
    ukiBits: 2048,
    notBefore: new Date(Number(EPOCH) * 1000),
  });
  // Two at a time: the machine has two cores, and the first test's QEMU boot runs meanwhile.
  const limit = limiter(2);
  for (const [name, spec] of Object.entries(BUILDS) as [BuildName, () => [string[], string]][]) {
    const [args, out] = spec();
    const p = limit(() => imager(args, out));
    p.catch(() => undefined); // reported by the test that awaits it
    started.set(name, p);
  }
});
after(async () => {
  await Promise.allSettled(started.values());
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

type Run = ImagerRun;

/** Runs the imager CLI against the fixture release, optionally with a profile on stdin. */
function imager(args: string[], out: string, stdin?: string): Promise<Run> {
  return runImager(args, {
    source: `oci-layout:${release}`,
    version: stdin === undefined ? VERSION : undefined,
    stdin,
    cacheDir,
    out,
    sourceDateEpoch: EPOCH,
  });
}

const sameBytes = async (a: string, b: string) => (await readFile(a)).equals(await readFile(b));

test("guide metal example: extensions and META in a .raw.zst that boots under SeaBIOS/GRUB", async () => {
  const a = join(scratch, "metal-a");
  const r = await built("metal");
  const cmdline = buildKernelCmdline({
    platform: "metal",
    arch: "amd64",
    version: VERSION,
    outputKind: "image",
    secureboot: false,
    metaValues: [{ key: 0x0a, value: "bootforge-meta" }],
    extraKernelArgs: ["console=ttyS0"],
  }).toString();
  assertLines(r, [
    "skipped pulling overlay (no overlay)",
    "profile ready:",
    "initramfs ready",
    `kernel command line: ${cmdline}`,
    "UKI ready",
    "creating disk image...",
    "disk image ready",
    `output asset path: ${join(a, "metal-amd64.raw")}`,
    "compressing .zst",
    `compression done: ${join(a, "metal-amd64.raw.zst")}`,
  ]);
  assert.deepEqual(await readdir(a), ["metal-amd64.raw.zst"]);

  const raw = join(scratch, "metal-amd64.raw");
  const z = spawnSync("zstd", ["-d", "-q", "-f", "--sparse", "-o", raw, join(a, "metal-amd64.raw.zst")]);
  assert.equal(z.status, 0, z.stderr?.toString());
  await rm(a, { recursive: true, force: true });
  const { facts } = await boot({
    arch: "amd64",
    firmware: "bios",
    media: { kind: "disk", path: raw },
    timeoutMs: 180_000,
  });
  await rm(raw, { force: true });
  assert.equal(facts.boot, "bios");
  assert.equal(facts.cmdline?.trim(), `BOOT_IMAGE=/A/vmlinuz ${cmdline}`);
  assert.deepEqual(
    facts.extensions.map((e) => e.split("@")[0]),
    ["bootforge-hello"],
  );
  assert.equal(facts.meta["0x0a"], "bootforge-meta");
  assert.equal(facts.meta["0x11"], "dual-boot");
  for (const label of ["EFI", "BIOS", "BOOT", "META"]) assert.ok(facts.diskLabels.includes(label), label);
});

test("secureboot-metal builds with generated keys, byte-identical twice", async () => {
  const [a, b] = [join(scratch, "sb-metal-a"), join(scratch, "sb-metal-b")];
  const r = await built("sbMetalA");
  const name = "metal-amd64-secureboot.raw";
  assertLines(r, [
    "UKI ready",
    "disk image ready",
    `output asset path: ${join(a, name)}`,
    `compression done: ${join(a, `${name}.zst`)}`,
  ]);
  const rb = await built("sbMetalB");
  assert.equal(rb.code, 0, rb.stderr);
  // zstd is a function of its input, so equal archives mean equal raw images
  assert.ok(await sameBytes(join(a, `${name}.zst`), join(b, `${name}.zst`)), "rebuild differs");
  const z = spawnSync("zstd", ["-d", "-q", "-f", "--sparse", "-o", join(a, name), join(a, `${name}.zst`)]);
  assert.equal(z.status, 0);
  // sd-boot only: EFI (with the signed UKI and the enrollment files) and META
  const t = await readGpt(join(a, name), 512);
  assert.deepEqual(
    t.partitions.map((p) => p.name),
    ["EFI", "META"],
  );
  await rm(a, { recursive: true, force: true });
  await rm(b, { recursive: true, force: true });
});

// The guide shows aws-amd64.raw.xz from an older release; upstream's aws profile now compresses with zstd.
test("cloud profiles: aws .raw.zst, gcp .raw.tar.gz, vmware .ova", async () => {
  const cases: ["aws" | "gcp" | "vmware", string, string][] = [
    ["aws", "aws-amd64.raw", "compression done: %s.zst"],
    ["gcp", "gcp-amd64.raw", "archive is ready: %s.tar.gz"],
    ["vmware", "vmware-amd64.ova", ""],
  ];
  for (const [profile, name, last] of cases) {
    const out = join(scratch, profile);
    const r = await built(profile);
    const path = join(out, name);
    assertLines(r, [
      `kernel command line: ${buildKernelCmdline({ platform: profile, arch: "amd64", version: VERSION, outputKind: "image", secureboot: false }).toString()}`,
      "disk image ready",
      `output asset path: ${path}`,
      ...(last ? [last.replace("%s", path)] : []),
    ]);
    const files = await readdir(out);
    assert.equal(files.length, 1, files.join(","));
    if (profile === "vmware") {
      const t = spawnSync("tar", ["-tf", path], { encoding: "utf8" });
      assert.deepEqual(t.stdout.trim().split("\n"), ["disk.ovf", "disk.mf", "disk.vmdk"]);
    } else if (profile === "gcp") {
      const t = spawnSync("tar", ["-tzf", `${path}.tar.gz`], { encoding: "utf8" });
      assert.equal(t.stdout.trim(), "disk.raw");
    } else {
      const t = spawnSync("zstd", ["-t", "-q", `${path}.zst`]);
      assert.equal(t.status, 0);
    }
    await rm(out, { recursive: true, force: true });
  }
});

test("guide SBC overlay example: the overlay's profile, kernel args, partition offset and install step", async () => {
  const out = join(scratch, "overlay");
  const r = await built("overlay");
  const cmdline = buildKernelCmdline({
    platform: "metal",
    arch: "arm64",
    version: VERSION,
    outputKind: "image",
    secureboot: false,
    overlayKernelArgs: OVERLAY_ARGS,
  }).toString();
  assert.ok(cmdline.includes(OVERLAY_ARGS.join(" ")), cmdline);
  const raw = join(out, "metal-arm64.raw");
  assertLines(r, [
    "pulling overlay...",
    "profile ready:",
    "initramfs ready",
    `kernel command line: ${cmdline}`,
    "disk image ready",
    `output asset path: ${raw}`,
    "compressing .xz",
    `compression done: ${raw}.xz`,
  ]);
  // the overlay's profile (grub, .xz), not the built-in metal one (sd-boot on arm64, .zst)
  assert.match(r.stderr, /^ {4}bootloader: grub$/m);
  const x = spawnSync("xz", ["-d", "-k", "-T0", `${raw}.xz`]);
  assert.equal(x.status, 0, x.stderr?.toString());
  // get-options asked for offset 2048: the GPT entries start at LBA 2 + 2048
  const t = await readGpt(raw, 512);
  assert.equal(t.primaryEntriesLBA, 2 + 2048);
  // the installer's raw write: the overlay's U-Boot (Debian's qemu_arm64 build) at sector 64,
  // read back out of the image and used as the machine's firmware: U-Boot starts the disk's EFI
  // loader, which boots the fixture OS with the overlay's kernel arguments.
  const uBoot = (await imageFiles(release, `${OVERLAY.repo}:${OVERLAY.tag}`, "arm64")).get(
    `artifacts/arm64/u-boot/${OVERLAY.name}/u-boot.bin`,
  );
  assert.ok(uBoot !== undefined && uBoot.length > 0);
  const fd = await open(raw, "r");
  const written = Buffer.alloc(uBoot.length);
  await fd.read(written, 0, written.length, 64 * 512);
  await fd.close();
  assert.ok(written.equals(uBoot), "u-boot.bin is not at sector 64");
  const firmware = join(scratch, "u-boot-from-disk.bin");
  await writeFile(firmware, written);
  const r2 = await boot({
    arch: "arm64",
    firmware: "bios",
    bios: firmware,
    media: { kind: "disk", path: raw },
    timeoutMs: 300_000,
  });
  assert.match(r2.log, /U-Boot \d{4}\.\d{2}/, "U-Boot's banner");
  assert.equal(r2.facts.boot, "uefi");
  assert.equal(r2.facts.arch, "aarch64");
  for (const arg of OVERLAY_ARGS)
    assert.ok(r2.facts.cmdline?.split(" ").includes(arg), `${arg} in ${r2.facts.cmdline}`);
  await rm(out, { recursive: true, force: true });
});

test("failures: exit codes, the cause last, nothing in the output directory", async () => {
  const out = join(scratch, "bad");
  const config = join(scratch, "machine-config.yaml");
  await writeFile(config, "version: v1alpha1\n");
  const cases: [string[], number, RegExp][] = [
    // the embedded-config virtual extension exists from Talos 1.12; the fixture release is 1.11
    [["metal", "--arch", "amd64", "--embedded-config-path", config], 3, /requires Talos 1\.12/],
    [
      ["metal", "--arch", "arm64", "--overlay-image", OVERLAY_REF, "--overlay-name", "nope"],
      2,
      /no installer "nope"/,
    ],
    [["metal", "--arch", "amd64", "--image-cache", join(scratch, "no-such-cache")], 2, /./],
    [
      ["installer", "--arch", "amd64", "--base-installer-image", "ghcr.io/siderolabs/missing:1"],
      5,
      /error pulling/,
    ],
  ];
  for (const [args, code, message] of cases) {
    const r = await imager(args, out);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd().split("\n").pop() ?? "", message, r.stderr);
  }
  assert.deepEqual(await readdir(out).catch(() => []), []);
});

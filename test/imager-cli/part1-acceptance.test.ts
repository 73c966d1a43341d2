/**
 * Issue 6 "Done when" points not covered by imager.test.ts, end to end against the fixture
 * release: the guide's ISO example on arm64 under AAVMF, the microcode early cpio of the PXE
 * initramfs, SecureBoot enforcement (snakeoil-signed boots, another key is refused, setup mode
 * with `force` enrollment), byte-identical rebuilds of every output kind, and bad inputs.
 * Five QEMU boots in all.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease, EXTENSION_MODULE, fixtureImageRef } from "../../fixtures/index.js";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { boot, qemuArgv } from "../qemu/boot.js";
import { FACT_PREFIX } from "../qemu/facts.js";
import { writeSnakeoilKeysDir, writeUntrustedKeysDir } from "../qemu/snakeoil-keys.js";
import { runImager, type ImagerRun } from "../helpers/run-imager.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const VERSION = "v1.11.0";
const HELLO = "ghcr.io/siderolabs/bootforge-hello:1.0.0";
const UCODE = `ghcr.io/siderolabs/intel-ucode:20250211-${VERSION}`;
/** The kernel-module extension; its tag carries the kernel ABI, read from the fixture manifest. */
let DUMMY = "";
const ext = (...refs: string[]) => refs.flatMap((r) => ["--system-extension-image", r]);

let release = "";
let scratch = "";
/** Debian's snakeoil PK/KEK/db key as a keys directory with upstream names (PCR key generated). */
let snakeoilKeys = "";
/** A generated key set the snakeoil firmware does not trust. */
let otherKeys = "";
const cacheDir = join(REPO, ".cache", "imager-test");

before(async () => {
  const fixture = await ensureFixtureRelease();
  release = fixture.dir;
  DUMMY = fixtureImageRef(fixture.manifest, "bootforge-dummy-module", VERSION);
  scratch = await mkdtemp(join(tmpdir(), "bootforge-part1-"));
  snakeoilKeys = join(scratch, "snakeoil-keys");
  otherKeys = join(scratch, "other-keys");
  const notBefore = new Date(Number(EPOCH) * 1000);
  await writeSnakeoilKeysDir(snakeoilKeys, notBefore);
  await writeUntrustedKeysDir(otherKeys, notBefore);
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

type Run = ImagerRun;

/** Runs the imager CLI; `--talos-version` and `--release-source` default to the fixture release. */
function imager(args: string[], out: string, opts: { version?: string; source?: string } = {}): Promise<Run> {
  return runImager(args, {
    source: opts.source ?? `oci-layout:${release}`,
    version: opts.version ?? VERSION,
    cacheDir,
    out,
    sourceDateEpoch: EPOCH,
  });
}

/** Builds `args` into `<scratch>/<name>-a` and `-b` and asserts `file` is byte-identical. */
async function buildTwice(name: string, args: string[], file: string): Promise<string> {
  const [a, b] = [join(scratch, `${name}-a`), join(scratch, `${name}-b`)];
  for (const out of [a, b]) {
    const r = await imager(args, out);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.ok(
    (await readFile(join(a, file))).equals(await readFile(join(b, file))),
    `${name}: ${file} differs`,
  );
  return join(a, file);
}

const lines = (stderr: string) => stderr.split("\n").filter((l) => l !== "" && !l.startsWith(" "));
const layerNames = (extensions: string[]) => extensions.map((e) => e.split("@")[0]);

test("guide bare-metal ISO example on arm64: reproducible, boots under AAVMF with cmdline and both extensions", async () => {
  // As the guide, with the last console on the serial port QEMU shows (ttyAMA0 on arm64).
  const args = ["net.ifnames=0", "-console", "console=ttyAMA0"];
  const flags = [
    "iso",
    "--arch",
    "arm64",
    ...ext(HELLO, DUMMY),
    ...args.map((a) => `--extra-kernel-arg=${a}`),
  ];
  const iso = await buildTwice("iso-arm64", flags, "metal-arm64.iso");
  const cmdline = buildKernelCmdline({
    platform: "metal",
    arch: "arm64",
    version: VERSION,
    outputKind: "iso",
    extraKernelArgs: args,
  }).toString();
  const r = await imager(flags, join(scratch, "iso-arm64-lines"));
  for (const l of ["initramfs ready", `kernel command line: ${cmdline}`, "UKI ready", "ISO ready"])
    assert.ok(lines(r.stderr).includes(l), `missing ${JSON.stringify(l)} in\n${r.stderr}`);

  const { facts } = await boot({ arch: "arm64", firmware: "uefi", media: { kind: "iso", path: iso } });
  assert.equal(facts.arch, "aarch64");
  assert.equal(facts.boot, "uefi");
  // The UKI's default profile (systemd-stub ≥ 257, as Talos ships), not the reset entry.
  assert.equal(facts.cmdline, cmdline);
  assert.deepEqual(layerNames(facts.extensions), [
    "bootforge-hello",
    "bootforge-dummy-module",
    "modules.dep",
  ]);
  assert.deepEqual(facts.modules, [EXTENSION_MODULE]);
});

/** The members of the uncompressed newc archive at the head of `buf`, and where it ends. */
function earlyCpio(buf: Buffer): { members: Map<string, Buffer>; end: number } {
  const members = new Map<string, Buffer>();
  const pad4 = (n: number) => (n + 3) & ~3;
  let off = 0;
  for (;;) {
    assert.equal(buf.toString("latin1", off, off + 6), "070701", `newc magic at ${off}`);
    const field = (i: number) => parseInt(buf.toString("latin1", off + 6 + 8 * i, off + 14 + 8 * i), 16);
    const [size, nameSize] = [field(6), field(11)];
    const name = buf.toString("latin1", off + 110, off + 110 + nameSize - 1);
    const data = pad4(off + 110 + nameSize);
    off = pad4(data + size);
    if (name === "TRAILER!!!") return { members, end: off };
    members.set(name, buf.subarray(data, data + size));
  }
}

test("PXE kernel + initramfs + cmdline: reproducible, microcode early cpio in front, boot loads microcode and the module", async () => {
  const base = ["iso", "--arch", "amd64", "--output-kind"];
  const kernel = await buildTwice("pxe-kernel", [...base, "kernel"], "kernel-amd64");
  const cmdlineFile = await buildTwice("pxe-cmdline", [...base, "cmdline"], "cmdline-metal-amd64");
  const initramfs = await buildTwice(
    "pxe-initramfs",
    [...base, "initramfs", ...ext(HELLO, UCODE, DUMMY)],
    "initramfs-metal-amd64.xz",
  );

  const bytes = await readFile(initramfs);
  const { members, end } = earlyCpio(bytes);
  const ucode = members.get("kernel/x86/microcode/GenuineIntel.bin");
  assert.ok(ucode && ucode.length > 0, `no microcode in the early cpio: ${[...members.keys()].join(", ")}`);
  let next = end;
  while (bytes[next] === 0) next++;
  const magic = bytes.subarray(next, next + 6).toString("hex");
  assert.ok(magic.startsWith("28b52ffd") || magic === "fd377a585a00", `compressed cpio after it: ${magic}`);

  const cmdline = await readFile(cmdlineFile, "utf8");
  const { facts } = await boot({
    arch: "amd64",
    firmware: "bios",
    media: { kind: "kernel", vmlinuz: kernel, initramfs, cmdline: `${cmdline} console=ttyS0` },
  });
  assert.deepEqual(facts.microcode, ["GenuineIntel.bin"]);
  assert.deepEqual(layerNames(facts.extensions), [
    "bootforge-hello",
    "intel-ucode",
    "bootforge-dummy-module",
    "modules.dep",
  ]);
  assert.deepEqual(facts.modules, [EXTENSION_MODULE]);
  assert.deepEqual(facts.failedModules, []);
});

test("UKIs, unsigned and signed, amd64 and arm64: two builds are byte-identical, signatures verify", async () => {
  await buildTwice("uki-amd64", ["metal-uki", "--arch", "amd64"], "metal-amd64-uki.efi");
  await buildTwice("uki-arm64", ["metal-uki", "--arch", "arm64"], "metal-arm64-uki.efi");
  const sb = ["--secureboot-keys-dir", snakeoilKeys];
  const signed = await buildTwice(
    "sb-uki-arm64",
    ["secureboot-metal-uki", "--arch", "arm64", ...sb],
    "metal-arm64-secureboot-uki.efi",
  );
  // Debian's arm64 stub has a short (gnu-efi) PE header: the signature must still verify.
  const cert = join(snakeoilKeys, KEY_FILES.ukiSigningCert);
  execFileSync("sbverify", ["--cert", cert, signed], { stdio: "ignore" });
  execFileSync("osslsigncode", ["verify", "-CAfile", cert, "-in", signed], { stdio: "ignore" });
});

test("secureboot-iso signed with Debian's snakeoil key boots with Secure Boot enforced", async () => {
  const iso = await buildTwice(
    "sb-snakeoil",
    [
      "secureboot-iso",
      "--arch",
      "amd64",
      "--secureboot-keys-dir",
      snakeoilKeys,
      ...ext(HELLO),
      "--extra-kernel-arg=console=ttyS0",
    ],
    "metal-amd64-secureboot.iso",
  );
  const { facts } = await boot({
    arch: "amd64",
    firmware: "secureboot-snakeoil",
    media: { kind: "iso", path: iso },
  });
  assert.equal(facts.boot, "uefi");
  assert.equal(facts.secureboot, "enabled");
  assert.deepEqual(layerNames(facts.extensions), ["bootforge-hello"]);
});

/**
 * Boots until the firmware refuses the media or the fixture finishes, whichever comes first
 * (the harness would wait for its full timeout on a refusal); returns the serial log.
 */
async function bootUntilRefused(iso: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-refuse-"));
  try {
    const opts = {
      arch: "amd64",
      firmware: "secureboot-snakeoil",
      media: { kind: "iso", path: iso },
    } as const;
    const [cmd = "", ...args] = await qemuArgv(opts, dir);
    return await new Promise<string>((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
      const onData = (s: Buffer) => {
        log += s.toString("latin1");
        if (/Access Denied|Security Violation/.test(log) || log.includes(`${FACT_PREFIX}ok`))
          child.kill("SIGKILL");
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("error", reject);
      child.on("close", () => {
        clearTimeout(timer);
        resolve(log);
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("a secureboot-iso signed with another key is refused by the snakeoil firmware; in setup mode it enrolls (force) and boots", async () => {
  const out = join(scratch, "sb-force");
  const r = await imager(
    [
      "secureboot-iso",
      "--arch",
      "amd64",
      "--secureboot-keys-dir",
      otherKeys,
      "--secureboot-enroll-keys",
      "force",
      "--extra-kernel-arg=console=ttyS0",
    ],
    out,
  );
  assert.equal(r.code, 0, r.stderr);
  const iso = join(out, "metal-amd64-secureboot.iso");

  const log = await bootUntilRefused(iso);
  assert.ok(!log.includes(`${FACT_PREFIX}ok`), "the untrusted ISO booted");
  assert.match(log, /failed to load Boot\d+ "UEFI QEMU DVD-ROM[^\n]*Access Denied/);

  // Setup mode: systemd-boot 252 enrolls loader/keys/auto (db, KEK, PK) and resets; QEMU must
  // reset in place (not exit, as -no-reboot makes it) so the second boot sees the enrolled keys.
  const enrolled = await boot({
    arch: "amd64",
    firmware: "secureboot-setup",
    media: { kind: "iso", path: iso },
    extraArgs: ["-action", "reboot=reset"],
  });
  assert.match(enrolled.log, /Enrolling secure boot keys from directory: \\loader\\keys\\auto/);
  assert.doesNotMatch(enrolled.log, /Failed to write \w+ secure boot variable/);
  assert.equal(enrolled.facts.secureboot, "enabled");
});

test("bad inputs: incompatible extension and unreachable registry exit with upstream codes and a one-line cause", async () => {
  const cases: {
    args: string[];
    opts: { version?: string; source?: string };
    code: number;
    cause: RegExp;
  }[] = [
    {
      // bootforge-next requires >= v1.10.0.
      args: ["iso", "--arch", "amd64", ...ext("ghcr.io/siderolabs/bootforge-next:2.0.0")],
      opts: { version: "v1.9.0" },
      code: 2,
      cause:
        /^error loading extension .*bootforge-next.*: version constraint >= v1\.10\.0 can't be satisfied with Talos version 1\.9\.0$/,
    },
    {
      args: ["iso", "--arch", "amd64"],
      opts: { source: "127.0.0.1:1" },
      code: 5,
      cause: /^error pulling 127\.0\.0\.1:1\/siderolabs\/imager:v1\.11\.0: /,
    },
    {
      args: ["iso", "--arch", "amd64"],
      opts: { source: "127.0.0.1:2" },
      code: 5,
      cause: /^error pulling 127\.0\.0\.1:2\/.*ECONNREFUSED/,
    },
  ];
  for (const [i, c] of cases.entries()) {
    const out = join(scratch, `bad-${i}`);
    const r = await imager(c.args, out, c.opts);
    assert.equal(r.code, c.code, r.stderr);
    assert.match(r.stderr.trimEnd().split("\n").pop() ?? "", c.cause, r.stderr);
    assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
    assert.ok(!existsSync(out), "no partial output");
  }
});

/**
 * End-to-end imager runs against the fixture release (an OCI layout, no network): the guide's
 * examples for memory and optical outputs, console lines, exit codes, output names, byte-identical
 * rebuilds, and boots of what was built (ISO under SeaBIOS and OVMF, kernel+initramfs, UKI).
 */
import assert from "node:assert/strict";

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease, EXTENSION_MODULE, fixtureImageRef } from "../../fixtures/index.js";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { generateSecureBootKeys } from "../../src/imager/secureboot/keys.js";
import { boot } from "../qemu/boot.js";
import { runImager, type ImagerRun } from "../helpers/run-imager.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const VERSION = "v1.11.0";
/** The hello and kernel-module extensions (the module's tag is read from the fixture manifest). */
const EXTENSIONS: string[] = [];

let release = "";
let scratch = "";
const cacheDir = join(REPO, ".cache", "imager-test");

before(async () => {
  const fixture = await ensureFixtureRelease();
  release = fixture.dir;
  EXTENSIONS.push(
    "--system-extension-image",
    "ghcr.io/siderolabs/bootforge-hello:1.0.0",
    "--system-extension-image",
    fixtureImageRef(fixture.manifest, "bootforge-dummy-module", VERSION),
  );
  scratch = await mkdtemp(join(tmpdir(), "bootforge-imager-test-"));
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Runs the imager CLI against the fixture release. */
function imager(args: string[], out: string, extra: string[] = []): Promise<ImagerRun> {
  return runImager(args, {
    source: `oci-layout:${release}`,
    version: VERSION,
    cacheDir,
    out,
    extra,
    sourceDateEpoch: EPOCH,
  });
}

const expectedCmdline = (outputKind: "iso" | "cmdline", extra: string[], secureboot = false) =>
  buildKernelCmdline({
    platform: "metal",
    arch: "amd64",
    version: VERSION,
    outputKind,
    secureboot,
    extraKernelArgs: extra,
  }).toString();

/** The top-level (non-detail) console lines. */
const stageLines = (stderr: string) => stderr.split("\n").filter((l) => l !== "" && !l.startsWith(" "));

test("guide bare-metal example: iso with two extensions and kernel args; lines, name, reproducible", async () => {
  const args = ["net.ifnames=0", "-console", "console=ttyS1"];
  const flags = ["iso", "--arch", "amd64", ...EXTENSIONS, ...args.map((a) => `--extra-kernel-arg=${a}`)];
  const a = join(scratch, "iso-a");
  const r = await imager(flags, a);
  assert.equal(r.code, 0, r.stderr);
  const cmdline = expectedCmdline("iso", args);
  const lines = stageLines(r.stderr);
  for (const l of [
    "profile ready:",
    "initramfs ready",
    `kernel command line: ${cmdline}`,
    "UKI ready",
    "ISO ready",
    `output asset path: ${join(a, "metal-amd64.iso")}`,
  ])
    assert.ok(lines.includes(l), `missing ${JSON.stringify(l)} in\n${r.stderr}`);
  assert.ok(lines.indexOf("initramfs ready") < lines.indexOf("ISO ready"));
  assert.match(r.stderr, /^ {4}- imageRef: ghcr\.io\/siderolabs\/bootforge-hello:1\.0\.0$/m);
  const b = join(scratch, "iso-b");
  const r2 = await imager(flags, b);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(
    (await readFile(join(a, "metal-amd64.iso"))).equals(await readFile(join(b, "metal-amd64.iso"))),
    "two builds of the ISO differ",
  );
});

test("the ISO boots under SeaBIOS and OVMF and reports its command line and both extensions", async () => {
  // As the guide, but the last console is the one QEMU's serial shows (ttyS0), so facts are readable.
  const args = ["net.ifnames=0", "-console", "console=ttyS0"];
  const out = join(scratch, "iso-boot");
  const r = await imager(
    ["iso", "--arch", "amd64", ...EXTENSIONS, ...args.map((a) => `--extra-kernel-arg=${a}`)],
    out,
  );
  assert.equal(r.code, 0, r.stderr);
  const iso = join(out, "metal-amd64.iso");
  const cmdline = expectedCmdline("iso", args);
  for (const firmware of ["bios", "uefi"] as const) {
    const { facts } = await boot({ arch: "amd64", firmware, media: { kind: "iso", path: iso } });
    assert.equal(facts.boot, firmware);
    // GRUB (BIOS) puts BOOT_IMAGE= in front, as on real Talos; systemd-boot starts the UKI's
    // default profile (systemd-stub ≥ 257 in the fixture, as Talos ships), whose .cmdline is
    // exactly the kernel command line: never the reset profile's wipe arguments.
    const seen = facts.cmdline?.trim().replace(/^BOOT_IMAGE=\S+ /, "") ?? "";
    assert.equal(seen, cmdline);
    assert.deepEqual(
      facts.extensions.map((e) => e.split("@")[0]),
      ["bootforge-hello", "bootforge-dummy-module", "modules.dep"],
    );
    assert.deepEqual(facts.modules, [EXTENSION_MODULE]);
  }
});

test("PXE outputs: kernel, initramfs with extensions, cmdline (no newline); kernel+initramfs boot", async () => {
  const out = join(scratch, "pxe");
  const k = await imager(["iso", "--arch", "amd64", "--output-kind", "kernel"], out);
  assert.equal(k.code, 0, k.stderr);
  assert.ok(stageLines(k.stderr).includes("kernel output ready"), k.stderr);
  const i = await imager(["iso", "--arch", "amd64", "--output-kind", "initramfs", ...EXTENSIONS], out);
  assert.equal(i.code, 0, i.stderr);
  assert.ok(stageLines(i.stderr).includes("initramfs output ready"), i.stderr);
  const c = await imager(["iso", "--arch", "amd64", "--output-kind", "cmdline"], out);
  assert.equal(c.code, 0, c.stderr);
  const cmdline = await readFile(join(out, "cmdline-metal-amd64"), "utf8");
  assert.equal(cmdline, expectedCmdline("cmdline", []));
  const initramfs = join(out, "initramfs-metal-amd64.xz");
  const again = join(scratch, "pxe-again");
  assert.equal(
    (await imager(["iso", "--arch", "amd64", "--output-kind", "initramfs", ...EXTENSIONS], again)).code,
    0,
  );
  assert.ok((await readFile(initramfs)).equals(await readFile(join(again, "initramfs-metal-amd64.xz"))));
  const { facts } = await boot({
    arch: "amd64",
    firmware: "bios",
    media: {
      kind: "kernel",
      vmlinuz: join(out, "kernel-amd64"),
      initramfs,
      cmdline: `${cmdline} console=ttyS0`,
    },
  });
  assert.deepEqual(
    facts.extensions.map((e) => e.split("@")[0]),
    ["bootforge-hello", "bootforge-dummy-module", "modules.dep"],
  );
  assert.deepEqual(facts.modules, [EXTENSION_MODULE]);
});

test("metal-uki boots under UEFI; secureboot UKI and ISO build with generated keys, reproducibly", async () => {
  const out = join(scratch, "uki");
  const r = await imager(["metal-uki", "--arch", "amd64", "--extra-kernel-arg=console=ttyS0"], out);
  assert.equal(r.code, 0, r.stderr);
  for (const l of ["UKI ready", "copying kernel...", "UKI output ready"])
    assert.ok(stageLines(r.stderr).includes(l), r.stderr);
  const uki = join(out, "metal-amd64-uki.efi");
  const { facts } = await boot({ arch: "amd64", firmware: "uefi", media: { kind: "uki", path: uki } });
  assert.equal(facts.cmdline?.trim(), expectedCmdline("cmdline", ["console=ttyS0"]));

  const keys = join(scratch, "keys");
  await generateSecureBootKeys(keys, { ukiBits: 2048, notBefore: new Date(Number(EPOCH) * 1000) });
  const sb = ["--secureboot-keys-dir", keys];
  for (const profile of ["secureboot-metal-uki", "secureboot-iso"]) {
    const [a, b] = [join(scratch, `${profile}-a`), join(scratch, `${profile}-b`)];
    const ra = await imager([profile, "--arch", "amd64"], a, sb);
    assert.equal(ra.code, 0, ra.stderr);
    const rb = await imager([profile, "--arch", "amd64"], b, sb);
    assert.equal(rb.code, 0, rb.stderr);
    const name =
      profile === "secureboot-iso" ? "metal-amd64-secureboot.iso" : "metal-amd64-secureboot-uki.efi";
    assert.ok((await readFile(join(a, name))).equals(await readFile(join(b, name))), `${name} differs`);
  }
});

test("bad inputs exit with upstream codes, a one-line cause and no output file", async () => {
  const out = join(scratch, "bad");
  const cases: [string[], string[], number, RegExp][] = [
    [["nope"], [], 2, /unknown base profile: nope/],
    [["iso", "--arch", "riscv64"], [], 2, /invalid arch/],
    [
      ["iso", "--system-extension-image", "ghcr.io/siderolabs/imager:v1.11.0"],
      [],
      2,
      /error loading extension .*imager/,
    ],
    [
      ["secureboot-iso", "--arch", "amd64"],
      ["--secureboot-keys-dir", join(scratch, "no-keys")],
      4,
      /keys directory/,
    ],
    [
      ["secureboot-iso", "--arch", "amd64"],
      ["--secureboot-keys-dir", scratch],
      2,
      /UKI signing key not found/,
    ],
    [
      ["iso", "--arch", "amd64", "--system-extension-image", "ghcr.io/siderolabs/missing:1.0"],
      [],
      5,
      /error pulling/,
    ],
  ];
  for (const [args, extra, code, message] of cases) {
    const r = await imager(args, out, extra);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    const last = r.stderr.trimEnd().split("\n").pop() ?? "";
    assert.match(last, message, r.stderr);
  }
  const listing = await import("node:fs/promises").then((fs) => fs.readdir(out).catch(() => [] as string[]));
  assert.deepEqual(listing, []);
});

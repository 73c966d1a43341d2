/**
 * The disk-image boots of issue 7 not covered elsewhere, each built by the imager CLI with the
 * guide's flags against the fixture release: the `metal-4k` profile presented to OVMF as a 4Kn
 * drive, an arm64 metal raw under AAVMF, and a `secureboot-metal` raw under OVMF with Secure
 * Boot enforced (plus the same image signed with an untrusted key, which the firmware refuses).
 * The fixture OS reports the command line, extensions, partition labels and META; every image
 * also passes sgdisk, fsck.vfat, xfs_repair and e2fsck with its own sector size. Four boots.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ensureFixtureRelease } from "../../fixtures/index.js";
import { readGpt } from "../../src/imager/disk/gpt-file.js";
import { extractRegion } from "../../src/imager/filesystems/sparse-file.js";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { runImager } from "../helpers/run-imager.js";
import { runWithSectorSize } from "../qemu/blockdev-view.js";
import { boot } from "../qemu/boot.js";
import type { BootFacts } from "../qemu/facts.js";
import { FACT_PREFIX } from "../qemu/facts.js";
import { writeSnakeoilKeysDir, writeUntrustedKeysDir } from "../qemu/snakeoil-keys.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const VERSION = "v1.11.0";
const HELLO = "ghcr.io/siderolabs/bootforge-hello:1.0.0";
const cacheDir = join(REPO, ".cache", "imager-test");

let release = "";
let scratch = "";
/** Debian's snakeoil PK/KEK/db key (what the snakeoil OVMF vars trust) as a keys directory. */
let snakeoilKeys = "";
/** A generated key set the snakeoil firmware does not trust. */
let otherKeys = "";

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-boot-more-"));
  snakeoilKeys = join(scratch, "snakeoil-keys");
  otherKeys = join(scratch, "other-keys");
  const notBefore = new Date(Number(EPOCH) * 1000);
  await writeSnakeoilKeysDir(snakeoilKeys, notBefore);
  await writeUntrustedKeysDir(otherKeys, notBefore);
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/**
 * Runs the imager with `args` into a fresh directory, checks it wrote exactly `name.zst`, and
 * returns the decompressed (sparse) raw image.
 */
async function buildRaw(dir: string, args: string[], name: string): Promise<string> {
  const out = join(scratch, dir);
  const r = await runImager(args, {
    source: `oci-layout:${release}`,
    version: VERSION,
    cacheDir,
    out,
    sourceDateEpoch: EPOCH,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(await readdir(out), [`${name}.zst`]);
  const raw = join(scratch, name);
  const z = spawnSync("zstd", ["-d", "-q", "-f", "--sparse", "-o", raw, join(out, `${name}.zst`)]);
  assert.equal(z.status, 0, z.stderr?.toString());
  await rm(out, { recursive: true, force: true });
  return raw;
}

/**
 * sgdisk -v with the image seen as a drive of its own sector size, then the filesystem checker
 * of every partition that holds one. Returns the partition labels in table order.
 */
async function checkImage(raw: string, sectorSize: 512 | 4096): Promise<string[]> {
  const v = runWithSectorSize(sectorSize, "sgdisk", ["-v", raw]);
  assert.equal(v.status, 0, v.stdout + v.stderr);
  // On a sector-size mismatch sgdisk finds no GPT, makes an empty one and finds no problems in it.
  assert.doesNotMatch(v.stdout, /Creating new GPT entries/, v.stdout);
  assert.match(v.stdout, /No problems found/, v.stdout);
  const p = runWithSectorSize(sectorSize, "sgdisk", ["-p", raw]);
  assert.match(p.stdout, new RegExp(`Sector size \\(logical/physical\\): ${sectorSize}/${sectorSize} bytes`));

  const table = await readGpt(raw, sectorSize);
  for (const part of table.partitions) {
    const checker: Record<string, [string, string[]]> = {
      EFI: ["fsck.vfat", ["-n"]],
      BOOT: ["xfs_repair", ["-n", "-f"]],
      IMAGECACHE: ["e2fsck", ["-n", "-f"]],
    };
    const c = checker[part.name];
    if (c === undefined) continue;
    const file = join(scratch, `${part.name}.part`);
    await extractRegion(raw, part.offset, part.size, file);
    const r = spawnSync(c[0], [...c[1], file], { encoding: "utf8", timeout: 120_000 });
    await rm(file, { force: true });
    assert.equal(r.status, 0, `${c[0]} on ${part.name}: ${r.stdout}${r.stderr}`);
  }
  return table.partitions.map((p) => p.name);
}

/**
 * The UKI carries profiles from 1.11; the fixture's systemd-stub (252) predates them and uses the
 * last `.cmdline` section: on disk images that is the reset-to-maintenance profile's, which
 * appends the wipe argument for EPHEMERAL and STATE.
 */
function assertUkiCmdline(f: BootFacts, cmdline: string): void {
  assert.ok(
    f.cmdline === cmdline || f.cmdline === `${cmdline} talos.experimental.wipe=system:EPHEMERAL,STATE`,
    `${f.cmdline ?? "(no cmdline)"} is not ${cmdline}`,
  );
}

const layerNames = (extensions: string[]) => extensions.map((e) => e.split("@")[0]);

test("metal-4k (4096-byte sectors, dual-boot, image cache) boots from a 4Kn drive under OVMF", async () => {
  const extra = ["console=ttyS0"];
  const raw = await buildRaw(
    "4k",
    [
      "metal-4k",
      "--arch",
      "amd64",
      "--system-extension-image",
      HELLO,
      "--meta",
      "0x0a=four-k",
      // any image stands in for a cache: it puts an ext4 IMAGECACHE partition on the disk
      "--image-cache",
      HELLO,
      ...extra.map((a) => `--extra-kernel-arg=${a}`),
    ],
    "metal-amd64.raw",
  );
  const labels = await checkImage(raw, 4096);
  assert.deepEqual(labels, ["EFI", "BIOS", "BOOT", "META", "IMAGECACHE"]);
  // Firmware that took the drive for a 512-byte one would find no GPT header at LBA 1 and no
  // boot loader: reaching the init proves the 4K layout is read as one.
  const { facts } = await boot({
    arch: "amd64",
    firmware: "uefi",
    media: { kind: "disk", path: raw, sectorSize: 4096 },
    timeoutMs: 180_000,
  });
  await rm(raw, { force: true });
  assert.equal(facts.boot, "uefi");
  assertUkiCmdline(
    facts,
    buildKernelCmdline({
      platform: "metal",
      arch: "amd64",
      version: VERSION,
      outputKind: "image",
      secureboot: false,
      metaValues: [{ key: 0x0a, value: "four-k" }],
      extraKernelArgs: extra,
    }).toString(),
  );
  assert.deepEqual(layerNames(facts.extensions), ["bootforge-hello"]);
  assert.deepEqual(facts.diskLabels, labels);
  assert.equal(facts.meta["0x0a"], "four-k");
  assert.equal(facts.meta["0x11"], "dual-boot");
});

test("arm64 metal raw (sd-boot) boots under AAVMF with extensions, META and the command line", async () => {
  // The last console is the one QEMU's virt machine shows (ttyAMA0).
  const extra = ["-console", "console=ttyAMA0"];
  const raw = await buildRaw(
    "arm64",
    [
      "metal",
      "--arch",
      "arm64",
      "--system-extension-image",
      HELLO,
      "--meta",
      "0x0a=arm-meta",
      "--meta",
      "0x0c=second",
      ...extra.map((a) => `--extra-kernel-arg=${a}`),
    ],
    "metal-arm64.raw",
  );
  const labels = await checkImage(raw, 512);
  assert.deepEqual(labels, ["EFI", "META"]);
  const { facts } = await boot({
    arch: "arm64",
    firmware: "uefi",
    media: { kind: "disk", path: raw },
    timeoutMs: 240_000,
  });
  await rm(raw, { force: true });
  assert.equal(facts.arch, "aarch64");
  assert.equal(facts.boot, "uefi");
  assertUkiCmdline(
    facts,
    buildKernelCmdline({
      platform: "metal",
      arch: "arm64",
      version: VERSION,
      outputKind: "image",
      secureboot: false,
      metaValues: [
        { key: 0x0a, value: "arm-meta" },
        { key: 0x0c, value: "second" },
      ],
      extraKernelArgs: extra,
    }).toString(),
  );
  assert.deepEqual(layerNames(facts.extensions), ["bootforge-hello"]);
  assert.deepEqual(facts.diskLabels, labels);
  // no dual-boot marker: arm64 images carry sd-boot only
  assert.deepEqual(facts.meta, { "0x0a": "arm-meta", "0x0c": "second" });
});

test("secureboot-metal raw signed with the snakeoil key boots with Secure Boot enforced; another key is refused", async () => {
  const extra = ["console=ttyS0"];
  const flags = (keys: string) => [
    "secureboot-metal",
    "--arch",
    "amd64",
    "--secureboot-keys-dir",
    keys,
    "--system-extension-image",
    HELLO,
    "--meta",
    "0x0a=sb-meta",
    ...extra.map((a) => `--extra-kernel-arg=${a}`),
  ];
  const name = "metal-amd64-secureboot.raw";
  const raw = await buildRaw("sb", flags(snakeoilKeys), name);
  const labels = await checkImage(raw, 512);
  assert.deepEqual(labels, ["EFI", "META"]);
  const { facts } = await boot({
    arch: "amd64",
    firmware: "secureboot-snakeoil",
    media: { kind: "disk", path: raw },
    timeoutMs: 180_000,
  });
  await rm(raw, { force: true });
  assert.equal(facts.boot, "uefi");
  assert.equal(facts.secureboot, "enabled");
  assertUkiCmdline(
    facts,
    buildKernelCmdline({
      platform: "metal",
      arch: "amd64",
      version: VERSION,
      outputKind: "image",
      secureboot: true,
      metaValues: [{ key: 0x0a, value: "sb-meta" }],
      extraKernelArgs: extra,
    }).toString(),
  );
  assert.deepEqual(layerNames(facts.extensions), ["bootforge-hello"]);
  assert.deepEqual(facts.diskLabels, labels);
  assert.deepEqual(facts.meta, { "0x0a": "sb-meta" });

  // The same image signed with keys the firmware does not trust: OVMF refuses its boot loader.
  const untrusted = await buildRaw("sb-other", flags(otherKeys), name);
  const refused = await boot({
    arch: "amd64",
    firmware: "secureboot-snakeoil",
    media: { kind: "disk", path: untrusted },
    timeoutMs: 120_000,
    expectOk: false,
    stopOn: /Access Denied|Security Violation|BOOTFORGE-FIXTURE ok/,
  });
  await rm(untrusted, { force: true });
  assert.ok(!refused.log.includes(`${FACT_PREFIX}ok`), "the untrusted image booted");
  assert.match(refused.log, /failed to load Boot\d+ "[^"]*" from [^\n]*: Access Denied/);
});

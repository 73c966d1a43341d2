import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { readVectors } from "../../../test/helpers/shared.js";
import { Quirks } from "../../profile/quirks.js";
import { isoGrubConfig } from "../grub/config.js";
import { run } from "../tools/run.js";
import {
  createGrubIso,
  createHybridIso,
  createUefiIso,
  selectIsoGenerator,
  startIsoGroundwork,
} from "./iso.js";
import { isoVolumeId, isoUuidTime } from "./volume.js";

test("hybrid ISO built while the UKI is still being written: the same bytes, and it waits for the UKI", async () => {
  const base = hybridBase();
  const finished = await createHybridIso({
    ...base,
    output: join(dir, "beside-a.iso"),
    workDir: join(dir, "beside-work-a"),
    uki,
  });
  // The UKI appears only after a delay; the ISO is started before, knowing its size.
  const late = join(dir, "late-uki.efi");
  const size = (await readFile(uki)).length;
  let written = false;
  const ready = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      copyFile(uki, late).then(() => {
        written = true;
        resolve();
      }, reject);
    }, 300),
  );
  const early = await createHybridIso({
    ...base,
    output: join(dir, "beside-b.iso"),
    workDir: join(dir, "beside-work-b"),
    uki: late,
    ukiWritten: { ready, size },
  });
  assert.ok(written);
  assert.ok((await readFile(finished)).equals(await readFile(early)), "same bytes as from a finished UKI");
  // A UKI that fails fails the ISO, with the UKI's error (the pipeline handles it meanwhile).
  const failing = Promise.reject(new Error("UKI write failed"));
  failing.catch(() => undefined);
  await assert.rejects(
    createHybridIso({
      ...base,
      output: join(dir, "beside-c.iso"),
      workDir: join(dir, "beside-work-c"),
      uki: join(dir, "never.efi"),
      ukiWritten: { ready: failing, size },
    }),
    /UKI write failed/,
  );
});

test("ISO groundwork made ahead: the same bytes; a mismatch or a failed part is reported at the ISO", async () => {
  const base = hybridBase();
  const plain = await createHybridIso({
    ...base,
    output: join(dir, "ground-a.iso"),
    workDir: join(dir, "ground-work-a"),
    uki,
  });
  const lines: string[] = [];
  const groundOptions = {
    generator: "hybrid" as const,
    arch: "amd64" as const,
    quirks: base.quirks,
    sourceDateEpoch: EPOCH,
    cmdline: base.cmdline,
    // Resolved later, as the pipeline's release lookup is.
    grubModules: new Promise<{ i386pc: string }>((r) => setTimeout(() => r({ i386pc: GRUB_PC }), 50)),
    background: true,
    log: (l: string) => lines.push(l),
  };
  const ground = startIsoGroundwork({ ...groundOptions, workDir: join(dir, "ground-work-b") });
  await ground.settled;
  assert.deepEqual(lines, ["creating GRUB BIOS boot image"], "GRUB's BIOS image made ahead");
  const ahead = await createHybridIso({
    ...base,
    output: join(dir, "ground-b.iso"),
    workDir: join(dir, "ground-work-b"),
    uki,
    groundwork: ground,
  });
  assert.ok((await readFile(plain)).equals(await readFile(ahead)), "same bytes as made in one go");

  // Groundwork for another generator or directory is refused, not mixed in.
  const other = startIsoGroundwork({
    ...groundOptions,
    generator: "uefi",
    workDir: join(dir, "ground-work-c"),
  });
  await assert.rejects(
    createHybridIso({
      ...base,
      output: join(dir, "ground-c.iso"),
      workDir: join(dir, "ground-work-c"),
      uki,
      groundwork: other,
    }),
    /groundwork made for a uefi ISO/,
  );
  // A part that failed ahead (no GRUB modules) fails the ISO once it is built, and nothing is output.
  const broken = startIsoGroundwork({
    ...groundOptions,
    grubModules: { i386pc: join(dir, "no-such-grub") },
    workDir: join(dir, "ground-work-d"),
  });
  await broken.settled;
  await assert.rejects(
    createHybridIso({
      ...base,
      output: join(dir, "ground-d.iso"),
      workDir: join(dir, "ground-work-d"),
      uki,
      groundwork: broken,
    }),
    /GRUB i386-pc module directory .*no-such-grub is not a directory/,
  );
  await assert.rejects(readFile(join(dir, "ground-d.iso")), /ENOENT/);
});

const EPOCH = 1_700_000_000;
const GRUB_PC = "/usr/lib/grub/i386-pc";
const GRUB_EFI = "/usr/lib/grub/x86_64-efi";
const SD_BOOT = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";
let dir = "";
let kernel = "";
let initramfs = "";
let uki = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-iso-"));
  kernel = join(dir, "vmlinuz");
  initramfs = join(dir, "initramfs.xz");
  uki = join(dir, "uki.efi");
  await writeFile(kernel, Buffer.alloc(300_000, 1));
  await writeFile(initramfs, Buffer.alloc(200_000, 2));
  // any PE will do for layout checks; the real UKI comes from the uki stage
  await copyFile("/usr/lib/systemd/boot/efi/linuxx64.efi.stub", uki);
});
after(async () => rm(dir, { recursive: true, force: true }));

/** The hybrid ISO options the hybrid tests share (inputs made in `before`). */
function hybridBase() {
  return {
    version: "v1.10.0",
    quirks: new Quirks("v1.10.0"),
    arch: "amd64" as const,
    sourceDateEpoch: EPOCH,
    kernel,
    initramfs,
    cmdline: "talos.platform=metal",
    grubModules: { i386pc: GRUB_PC },
    sdBoot: SD_BOOT,
  };
}

async function xorriso(iso: string, ...cmds: string[]): Promise<string> {
  const r = await run("xorriso", ["-indev", iso, ...cmds], { timeoutMs: 60_000 });
  return `${r.stdout.toString()}\n${r.stderr}`;
}

async function files(iso: string): Promise<string[]> {
  const out = await xorriso(iso, "-find", "/", "-type", "f");
  return out
    .split("\n")
    .filter((l) => l.startsWith("'"))
    .map((l) => l.slice(1, -1));
}

async function extract(iso: string, path: string): Promise<string> {
  const dest = join(dir, `x-${path.replaceAll("/", "_")}`);
  await run("xorriso", ["-osirrox", "on", "-indev", iso, "-extract", path, dest], { timeoutMs: 60_000 });
  return readFile(dest, "utf8");
}

test("volume IDs match upstream vectors; UUID time is UTC", () => {
  const v = readVectors<{ isoVolumeID: Array<{ input: string; expected: string }> }>("imager-misc.json");
  for (const c of v.isoVolumeID) assert.equal(isoVolumeId(c.input), c.expected);
  assert.equal(isoVolumeId(`Talos-v1.10.0-${"x".repeat(40)}`).length, 32);
  assert.equal(isoUuidTime(EPOCH), "2023111422132000");
});

test("generator selection follows upstream", () => {
  assert.equal(selectIsoGenerator(new Quirks("v1.9.0"), false), "grub");
  assert.equal(selectIsoGenerator(new Quirks("v1.9.0"), true), "uefi");
  assert.equal(selectIsoGenerator(new Quirks("v1.10.2"), false), "hybrid");
  assert.equal(selectIsoGenerator(new Quirks("v1.11.0"), false), "hybrid");
  assert.equal(selectIsoGenerator(new Quirks("v1.12.0"), false, "sd-boot"), "uefi");
  assert.equal(selectIsoGenerator(new Quirks("v1.12.0"), false, "grub"), "grub");
  assert.equal(selectIsoGenerator(new Quirks("v1.12.0"), false), "hybrid");
  assert.throws(() => selectIsoGenerator(new Quirks("v1.12.0"), false, "none"), /not supported/);
});

test("GRUB ISO: BIOS + UEFI El Torito, grub.cfg, label, reproducible", async () => {
  const build = (n: number): Promise<string> =>
    createGrubIso({
      output: join(dir, `grub-${n}.iso`),
      workDir: join(dir, `grub-work-${n}`),
      version: "v1.9.0",
      quirks: new Quirks("v1.9.0"),
      arch: "amd64",
      sourceDateEpoch: EPOCH,
      kernel,
      initramfs,
      cmdline: "talos.platform=metal console=ttyS0 talos.config=http://x/?u=${uuid}",
      grubModules: { i386pc: GRUB_PC, efi: GRUB_EFI },
    });
  const iso = await build(1);
  const list = await files(iso);
  for (const f of [
    "/boot/vmlinuz",
    "/boot/initramfs.xz",
    "/boot/grub/grub.cfg",
    "/boot/grub/i386-pc/eltorito.img",
    "/boot/grub/i386-pc/linux.mod",
    "/boot/grub/x86_64-efi/linux.mod",
    "/efi.img",
  ]) {
    assert.ok(list.includes(f), f);
  }
  assert.ok(!list.some((f) => f.endsWith("/boot.img") || f.endsWith("grub-bios-setup")));
  assert.equal(
    await extract(iso, "/boot/grub/grub.cfg"),
    isoGrubConfig("talos.platform=metal console=ttyS0 talos.config=http://x/?u=${uuid}", true),
  );
  const report = await xorriso(iso, "-report_el_torito", "plain", "-report_system_area", "plain");
  assert.match(report, /Volume id\s+: 'TALOS_V1_9_0'/);
  assert.match(report, /El Torito boot img :\s+1\s+BIOS\s+y\s+none/);
  assert.match(report, /El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
  assert.match(report, /El Torito img path :\s+1\s+\/boot\/grub\/i386-pc\/eltorito\.img/);
  assert.match(report, /grub2-mbr/);
  const again = await build(2);
  assert.ok((await readFile(iso)).equals(await readFile(again)), "two GRUB ISOs are byte-identical");
});

test("UEFI ISO: systemd-boot, UKI, loader files, enrollment keys, appended EFI partition", async () => {
  const keys = join(dir, "keys");
  await mkdir(keys, { recursive: true });
  for (const k of ["PK", "KEK", "db"]) await writeFile(join(keys, `${k}.auth`), k);
  await writeFile(join(keys, "cert.der"), "DER");
  const workDir = join(dir, "uefi-work");
  const iso = await createUefiIso({
    output: join(dir, "uefi.iso"),
    workDir,
    version: "v1.12.0",
    quirks: new Quirks("v1.12.0"),
    arch: "amd64",
    sourceDateEpoch: EPOCH,
    sdBoot: SD_BOOT,
    uki,
    secureBootEnroll: "force",
    signingCertDer: join(keys, "cert.der"),
    enrollmentKeys: { pk: join(keys, "PK.auth"), kek: join(keys, "KEK.auth"), db: join(keys, "db.auth") },
  });
  assert.deepEqual((await files(iso)).sort(), [
    "/EFI/BOOT/BOOTX64.EFI",
    "/EFI/Linux/Talos-v1.12.0.efi",
    "/EFI/keys/uki-signing-cert.der",
    "/loader/keys/auto/KEK.auth",
    "/loader/keys/auto/PK.auth",
    "/loader/keys/auto/db.auth",
    "/loader/loader.conf",
    "/loader/random-seed",
  ]);
  assert.equal(
    await extract(iso, "/loader/loader.conf"),
    "# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll force\n",
  );
  const report = await xorriso(iso, "-report_el_torito", "plain", "-report_system_area", "plain");
  assert.match(report, /Volume id\s+: 'TALOS_V1_12_0'/);
  assert.match(report, /El Torito boot img :\s+1\s+UEFI\s+y\s+none/);
  assert.match(report, /MBR partition\s+:\s+2\s+0x00\s+0xef/);
  // The EFI partition holds the same tree, random-seed read-only.
  const img = join(workDir, "efiboot.img");
  const mdir = await run("mdir", ["-/", "-b", "-i", img, "::"], {
    timeoutMs: 30_000,
    env: { MTOOLS_SKIP_CHECK: "1" },
  });
  const inFat = mdir.stdout.toString();
  for (const p of [
    "::/EFI/BOOT/BOOTX64.EFI",
    "::/EFI/Linux/Talos-v1.12.0.efi",
    "::/loader/keys/auto/db.auth",
  ]) {
    assert.ok(inFat.toLowerCase().includes(p.toLowerCase()), p);
  }
  const attr = await run("mattrib", ["-i", img, "::/loader/random-seed"], {
    timeoutMs: 30_000,
    env: { MTOOLS_SKIP_CHECK: "1" },
  });
  assert.match(attr.stdout.toString("utf8"), /\bR\s+::\/loader\/random-seed/);
});

test("hybrid ISO: BIOS through GRUB and UEFI through systemd-boot, reproducible", async () => {
  const build = (n: number): Promise<string> =>
    createHybridIso({
      ...hybridBase(),
      output: join(dir, `hybrid-${n}.iso`),
      workDir: join(dir, `hybrid-work-${n}`),
      uki,
    });
  const iso = await build(1);
  const list = await files(iso);
  for (const f of [
    "/boot/grub/i386-pc/eltorito.img",
    "/boot/vmlinuz",
    "/EFI/BOOT/BOOTX64.EFI",
    "/loader/loader.conf",
  ]) {
    assert.ok(list.includes(f), f);
  }
  assert.ok(!list.some((f) => f.startsWith("/boot/grub/x86_64-efi")));
  const report = await xorriso(iso, "-report_el_torito", "plain", "-report_system_area", "plain");
  assert.match(report, /El Torito boot img :\s+1\s+BIOS\s+y\s+none/);
  assert.match(report, /El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
  assert.match(report, /GPT partname local :\s+\d+\s+Appended2/);
  assert.equal(
    await extract(iso, "/loader/loader.conf"),
    "# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll off\n",
  );
  const again = await build(2);
  assert.ok((await readFile(iso)).equals(await readFile(again)), "two hybrid ISOs are byte-identical");
});

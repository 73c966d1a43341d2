/**
 * Boots the fixture release's kernel + initramfs under QEMU (TCG) and checks what the fixture
 * init reports: extensions mounted as overlay layers, the extension module loaded through
 * the rebuilt modules.dep, firmware and microcode carried in the initramfs, META read from a
 * GPT disk, BIOS vs UEFI. Three boots in all, to keep the suite affordable.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { Arch } from "../../fixtures/index.js";
import {
  EXTENSION_MODULE,
  ensureFixtureRelease,
  fixtureBootFiles,
  fixtureExtensions,
} from "../../fixtures/index.js";
import { satisfies } from "../../fixtures/lib/release.js";
import { appendExtensions } from "../../fixtures/testing/append-extensions.js";
import { writeExtensionDirs } from "../../fixtures/testing/extension-dirs.js";
import { boot } from "./boot.js";
import { writeMetaDisk } from "./meta-disk.js";

let release = "";
let scratch = "";

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-boot-test-"));
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The fixture initramfs of `version` with every extension compatible with it appended. */
async function extendedInitramfs(version: string, arch: Arch): Promise<string> {
  const files = fixtureBootFiles(release, version, arch);
  const images = (await fixtureExtensions(version, arch)).filter((e) => satisfies(e.constraint, version));
  const dirs = await writeExtensionDirs(join(scratch, `ext-${version}-${arch}`), images);
  const out = join(scratch, `initramfs-${version}-${arch}.xz`);
  await writeFile(
    out,
    await appendExtensions(
      await readFile(files.initramfs),
      version,
      dirs,
      join(scratch, `work-${version}-${arch}`),
    ),
  );
  return out;
}

test("amd64 kernel+initramfs under SeaBIOS mounts extensions and loads the extension module", async () => {
  const files = fixtureBootFiles(release, "v1.11.0", "amd64");
  const cmdline = "console=ttyS0 talos.platform=metal bootforge.test=1";
  const r = await boot({
    arch: "amd64",
    firmware: "bios",
    media: {
      kind: "kernel",
      vmlinuz: files.vmlinuz,
      initramfs: await extendedInitramfs("v1.11.0", "amd64"),
      cmdline,
    },
  });
  const f = r.facts;
  assert.equal(f.cmdline, cmdline);
  assert.equal(f.arch, "x86_64");
  assert.equal(f.version, "v1.11.0");
  assert.equal(f.boot, "bios");
  assert.equal(f.secureboot, "disabled");
  assert.deepEqual(
    f.extensions.map((e) => e.split("@")[0]),
    [
      "bootforge-hello",
      "intel-ucode",
      "bootforge-firmware",
      "bootforge-dummy-module",
      "bootforge-next",
      "modules.dep",
    ],
  );
  assert.deepEqual(f.modules, [EXTENSION_MODULE]);
  assert.equal(f.other.hello, "bootforge-hello");
  assert.equal(f.other.next, "bootforge-next");
  assert.ok(f.firmware.includes("/usr/lib/firmware/bootforge/fixture-nic.bin"), f.lines.join("\n"));
  assert.deepEqual(f.microcode, ["GenuineIntel.bin"]);
  assert.deepEqual(f.errors, []);
  assert.ok(f.ok);
});

test("amd64 under OVMF reads META and partition labels from a GPT disk", async () => {
  const files = fixtureBootFiles(release, "v1.11.0", "amd64");
  const disk = join(scratch, "meta.raw");
  await writeMetaDisk(disk, { 0x0a: "network:\n  hostname: fixture", 0x0c: "user-reserved" });
  const r = await boot({
    arch: "amd64",
    firmware: "uefi",
    media: { kind: "kernel", vmlinuz: files.vmlinuz, initramfs: files.initramfs, cmdline: "console=ttyS0" },
    extraArgs: [
      "-drive",
      `if=none,id=meta,format=raw,snapshot=on,file=${disk}`,
      "-device",
      "virtio-blk-pci,drive=meta",
    ],
  });
  assert.equal(r.facts.boot, "uefi");
  assert.equal(r.facts.secureboot, "disabled");
  assert.deepEqual(r.facts.diskLabels, ["META", "STATE"]);
  assert.deepEqual(r.facts.meta, { "0x0a": "network:\\n  hostname: fixture", "0x0c": "user-reserved" });
  assert.deepEqual(r.facts.extensions, []);
});

test("arm64 kernel+initramfs of the 1.9-era release (non-usr-merged paths) with extensions", async () => {
  const files = fixtureBootFiles(release, "v1.9.0", "arm64");
  const r = await boot({
    arch: "arm64",
    firmware: "bios",
    media: {
      kind: "kernel",
      vmlinuz: files.vmlinuz,
      initramfs: await extendedInitramfs("v1.9.0", "arm64"),
      cmdline: "console=ttyAMA0",
    },
  });
  const f = r.facts;
  assert.equal(f.arch, "aarch64");
  assert.equal(f.version, "v1.9.0");
  assert.ok(f.extensions.includes("bootforge-hello@1.0.0"), f.lines.join("\n"));
  assert.ok(!f.extensions.some((e) => e.startsWith("bootforge-next@")));
  assert.deepEqual(f.modules, [EXTENSION_MODULE]);
  assert.ok(f.firmware.includes("/lib/firmware/bootforge/fixture-nic.bin"), f.lines.join("\n"));
  assert.ok(f.ok);
});

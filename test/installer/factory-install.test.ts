/**
 * An installer image served by the factory put to work, as Talos does on a machine booted from
 * the ISO: skopeo pulls `metal-installer/<id>:v1.11.0` (amd64) from the factory's /v2 front end
 * into an OCI layout, the image's root is flattened, and its entrypoint (the fixture installer,
 * fixtures/installer/installer.sh) runs `install --disk` in bubblewrap over that root against a
 * blank disk file, with the host's sgdisk and mtools bound in and the META values the factory
 * put on the command line (`talos.environment=INSTALLER_META_BASE64=…`) in its environment.
 * The disk must pass sgdisk and fsck.vfat, and boot under OVMF: systemd-boot, the UKI the
 * factory built, the default profile's command line, the schematic's extension and
 * `schematic@<id>`, and the META value. Bad input (META that is not base64) fails with one line
 * and leaves the disk blank. One boot.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { parseMetaValue } from "../../src/formats/meta/index.js";
import { readGpt } from "../../src/imager/disk/gpt-file.js";
import { extractRegion } from "../../src/imager/filesystems/sparse-file.js";
import { startFactory, type TestFactory } from "../factory/harness.js";
import { bootStarvedAgain } from "../qemu/boot.js";
import { flattenImage, HOST_TOOLS_DIR, runInSandbox, type FlatImage } from "./image-root.js";

const run = promisify(execFile);
const VERSION = "v1.11.0";
const ARGS = ["console=ttyS0", "bootforge.installed=yes"];
const META = "0x0c=installed by the fixture installer";
const SCHEMATIC = [
  "customization:",
  "  extraKernelArgs:",
  ...ARGS.map((a) => `    - ${a}`),
  "  meta:",
  `    - key: ${parseMetaValue(META).key}`,
  `      value: "${parseMetaValue(META).value}"`,
  "  systemExtensions:",
  "    officialExtensions:",
  "      - siderolabs/bootforge-hello",
  "",
].join("\n");
const HOST_TOOLS = ["sgdisk", "mformat", "mmd", "mcopy"];
const DISK_AT = "/dev/installdisk";

let f: TestFactory;
let id = "";
let dir = "";
let image: FlatImage;
/** The `INSTALLER_META_BASE64` value of the factory's command line for this schematic. */
let metaEnv = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-factory-install-"));
  f = await startFactory();
  const r = await fetch(`${f.url}/schematics`, { method: "POST", body: SCHEMATIC });
  assert.equal(r.status, 201, await r.clone().text());
  id = ((await r.json()) as { id: string }).id;
  const cmdline = await (await fetch(`${f.url}/image/${id}/${VERSION}/cmdline-metal-amd64`)).text();
  const m = /(?:^| )talos\.environment=INSTALLER_META_BASE64=(\S+)/.exec(cmdline);
  assert.ok(m?.[1], cmdline);
  metaEnv = m[1];
});
after(async () => {
  await f?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A sparse blank disk file. */
async function blankDisk(name: string, size: number): Promise<string> {
  const path = join(dir, name);
  await run("touch", [path]);
  await truncate(path, size);
  return path;
}

const installer = (disk: string, env: Record<string, string>) =>
  runInSandbox({
    root: image.root,
    argv: [...image.entrypoint, "install", "--disk", DISK_AT],
    env: { PATH: `/usr/bin:/bin:${HOST_TOOLS_DIR}`, ...env },
    hostTools: HOST_TOOLS,
    disk,
    diskAt: DISK_AT,
    timeoutMs: 300_000,
  });

test(
  "skopeo pulls the installer image from the factory's /v2 front end; its root flattens",
  { timeout: 900_000 },
  async () => {
    const host = f.url.replace(/^http:\/\//, "");
    const layout = join(dir, "layout");
    await run(
      "skopeo",
      [
        "copy", "--src-tls-verify=false", "--override-os", "linux", "--override-arch", "amd64",
        `docker://${host}/metal-installer/${id}:${VERSION}`, `oci:${layout}:installer`,
      ], // prettier-ignore
      { timeout: 600_000 },
    );
    image = await flattenImage(layout, join(dir, "root"));
    assert.deepEqual(image.entrypoint, ["/bin/installer"]);
    assert.equal(image.layers.length, 2, "installer-base + artifacts");
    // What Bootforge put into the image for the installer: the UKI and systemd-boot.
    const uki = await readFile(join(image.root, "usr/install/amd64/vmlinuz.efi"));
    assert.equal(uki.toString("latin1", 0, 2), "MZ");
    assert.ok(uki.includes("bootforge.installed=yes"), "the UKI carries the schematic's kernel args");
    const sdBoot = await readFile(join(image.root, "usr/install/amd64/systemd-boot.efi"));
    assert.equal(sdBoot.toString("latin1", 0, 2), "MZ");
  },
);

test("the installer refuses META that is not base64 and leaves the disk blank", async () => {
  assert.ok(image, "image flattened by the first test");
  const disk = await blankDisk("bad.raw", 256 * 1024 * 1024);
  const r = await installer(disk, { INSTALLER_META_BASE64: "not base64!" });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr.trim(), /^installer: INSTALLER_META_BASE64 is not base64$/);
  const { stdout } = await run("sh", ["-c", 'od -An -tx1 "$1" | sort -u', "sh", disk], {
    maxBuffer: 1 << 20,
  });
  assert.deepEqual(stdout.trim().split("\n"), ["00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00", "*"]);
  await rm(disk, { force: true });
});

test(
  "the installer partitions a blank disk from the image's assets; the disk boots under OVMF",
  { timeout: 900_000 },
  async () => {
    assert.ok(image, "image flattened by the first test");
    const disk = await blankDisk("installed.raw", 512 * 1024 * 1024);
    const r = await installer(disk, { INSTALLER_META_BASE64: metaEnv });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`installed Talos ${VERSION} \\(amd64, systemd-boot\\) on ${DISK_AT} with 1 META value`),
    );

    // Independent readers: sgdisk's verifier, the project's GPT reader, fsck.vfat, mtools.
    const v = await run("sgdisk", ["-v", disk]);
    assert.match(v.stdout, /No problems found/, v.stdout);
    const table = await readGpt(disk, 512);
    assert.deepEqual(
      table.partitions.map((p) => p.name),
      ["EFI", "META", "STATE"],
    );
    const efi = table.partitions[0]!;
    const part = join(dir, "efi.part");
    await extractRegion(disk, efi.offset, efi.size, part);
    await run("fsck.vfat", ["-n", part]);
    const { stdout: listing } = await run("mdir", ["-i", part, "-/", "-b", "::"], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: "1" },
    });
    const files = listing
      .split("\n")
      .map((l) => l.trim().replace(/^::\//, "/"))
      .filter(Boolean)
      .sort();
    for (const want of ["/EFI/boot/BOOTX64.efi", `/EFI/Linux/Talos-${VERSION}.efi`, "/loader/loader.conf"])
      assert.ok(files.includes(want), `${want} in ${files.join(" ")}`);
    await rm(part, { force: true });

    const { facts } = await bootStarvedAgain({
      arch: "amd64",
      firmware: "uefi",
      media: { kind: "disk", path: disk },
      timeoutMs: 300_000,
    });
    assert.equal(facts.boot, "uefi");
    assert.equal(facts.secureboot, "disabled");
    // systemd-boot 257 starts the UKI's default profile (not the reset entry). The installer's
    // UKI carries no META (upstream's installer output refuses it): META reaches the disk through
    // the installer's environment, as on a machine booted from the ISO.
    assert.equal(
      facts.cmdline?.trim(),
      buildKernelCmdline({
        platform: "metal",
        arch: "amd64",
        version: VERSION,
        outputKind: "installer",
        secureboot: false,
        extraKernelArgs: ARGS,
      }).toString(),
    );
    assert.deepEqual(
      facts.extensions.map((e) => e.split("@")[0]),
      ["bootforge-hello", "schematic"],
      facts.extensions.join(" "),
    );
    assert.ok(facts.extensions.includes(`schematic@${id}`), facts.extensions.join(" "));
    assert.deepEqual(facts.diskLabels, ["EFI", "META", "STATE"]);
    assert.deepEqual(facts.meta, { "0x0c": parseMetaValue(META).value });
    assert.deepEqual(facts.errors, []);
  },
);

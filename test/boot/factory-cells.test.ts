/**
 * The boot cells the other tests leave out, each booted from what the factory serves over HTTP
 * (one factory for the file, SecureBoot on with Debian's snakeoil key, which the snakeoil OVMF
 * variables trust; one schematic with two fixture extensions and kernel args):
 *
 * - arm64 PXE: the PXE script's kernel, initramfs and command line under AAVMF;
 * - the SecureBoot UKI on its own under OVMF with Secure Boot enforced;
 * - the qcow2, VHD and OVA disk images, each opened by QEMU's own driver for its format (qcow2,
 *   vpc, and the vmdk inside the OVA's tar);
 * - the UEFI ISO and raw disk image under OVMF;
 * - the SecureBoot ISO and raw disk image under OVMF with Secure Boot enforced.
 *
 * Each boot is asserted from the fixture OS's serial facts: the default profile's command line,
 * the extensions (with `schematic@<id>`), boot mode and Secure Boot state. The amd64 ISO, raw disk
 * and PXE under SeaBIOS are booted by test/factory/pipeline.test.ts. Nine boots, run concurrently
 * (the boot harness allows one QEMU per core).
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { EXTENSION_MODULE } from "../../fixtures/index.js";
import { buildKernelCmdline, type CmdlineOutputKind } from "../../src/cmdline/index.js";
import { KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { startFactory, type TestFactory } from "../factory/harness.js";
import { bootStarvedAgain, type BootMedia } from "../qemu/boot.js";
import type { BootFacts } from "../qemu/facts.js";
import type { FirmwareMode, GuestArch } from "../qemu/firmware.js";
import { SNAKEOIL } from "../qemu/firmware.js";
import { writeSnakeoilKeysDir } from "../qemu/snakeoil-keys.js";

const run = promisify(execFile);
const VERSION = "v1.11.0";
const EXTENSIONS = ["siderolabs/bootforge-hello", "siderolabs/bootforge-dummy-module"];
// The last console is the serial port QEMU shows on amd64; the fixture writes its facts to the
// arm64 serial port (ttyAMA0) directly.
const ARGS = ["console=ttyS0", "bootforge.cells=yes"];
const SCHEMATIC = [
  "customization:",
  "  extraKernelArgs:",
  ...ARGS.map((a) => `    - ${a}`),
  "  systemExtensions:",
  "    officialExtensions:",
  ...EXTENSIONS.map((e) => `      - ${e}`),
  "",
].join("\n");
// TCG boots under load (two cores shared with other test files) run well past the ~15 s alone.
const BOOT_TIMEOUT = 300_000;
const TEST_TIMEOUT = 900_000;

/** The default profile's command line the factory puts into an asset of `kind`. */
const expected = (kind: CmdlineOutputKind, opts: { arch?: GuestArch; secureboot?: boolean } = {}) =>
  buildKernelCmdline({
    platform: "metal",
    arch: opts.arch ?? "amd64",
    version: VERSION,
    outputKind: kind,
    secureboot: opts.secureboot ?? false,
    extraKernelArgs: ARGS,
  }).toString();

let f: TestFactory;
let id = "";
let dir = "";
let keys = "";

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-factory-cells-"));
  keys = join(dir, "keys");
  await writeSnakeoilKeysDir(keys, new Date(1_700_000_000_000));
  f = await startFactory({ secureBoot: { enabled: true, keysDir: keys }, build: { maxConcurrency: 2 } });
  const r = await fetch(`${f.url}/schematics`, { method: "POST", body: SCHEMATIC });
  assert.equal(r.status, 201);
  id = ((await r.json()) as { id: string }).id;
});
after(async () => {
  await f?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Fetches an asset by URL into the scratch directory, streamed and sparse: the VHD is a fixed
 * one of the full disk size (over 4 GiB, mostly zeros), too big for one buffer.
 */
async function fetchTo(url: string, name: string): Promise<string> {
  const res = await fetch(url);
  if (res.status !== 200 || res.body === null) assert.fail(`${url}: ${res.status} ${await res.text()}`);
  const path = join(dir, name);
  const fh = await open(path, "w");
  let size = 0;
  try {
    for await (const chunk of res.body) {
      const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      for (let at = 0; at < bytes.length; at += ZEROS.length) {
        const piece = bytes.subarray(at, at + ZEROS.length);
        if (!piece.equals(ZEROS.subarray(0, piece.length))) await fh.write(piece, 0, piece.length, size + at);
      }
      size += bytes.length;
    }
    await fh.truncate(size);
  } finally {
    await fh.close();
  }
  assert.equal(res.headers.get("content-length"), String(size));
  return path;
}
const ZEROS = Buffer.alloc(64 * 1024);
const download = (name: string) => fetchTo(`${f.url}/image/${id}/${VERSION}/${name}`, name);

/**
 * What `qemu-img info` reads: with no format given, the one QEMU probes (qcow2 and VMDK carry a
 * magic at the start; a fixed VHD only a footer at the end, so it probes as raw).
 */
async function qemuInfo(path: string, format?: string): Promise<{ format: string; "virtual-size": number }> {
  const { stdout } = await run("qemu-img", [
    "info",
    "--output=json",
    ...(format ? ["-f", format] : []),
    path,
  ]);
  return JSON.parse(stdout) as { format: string; "virtual-size": number };
}
const detectedFormat = async (path: string) => (await qemuInfo(path)).format;

async function bootFacts(arch: GuestArch, firmware: FirmwareMode, media: BootMedia): Promise<BootFacts> {
  const { facts } = await bootStarvedAgain({ arch, firmware, media, timeoutMs: BOOT_TIMEOUT });
  return facts;
}

/** Both extensions in schematic order, then the virtual `schematic` one versioned by ID. */
function assertExtensions(facts: BootFacts): void {
  const names = facts.extensions.map((e) => e.split("@")[0]).filter((n) => n !== "modules.dep");
  assert.deepEqual(
    names,
    ["bootforge-hello", "bootforge-dummy-module", "schematic"],
    facts.extensions.join(" "),
  );
  assert.ok(facts.extensions.includes(`schematic@${id}`), facts.extensions.join(" "));
  assert.deepEqual(facts.modules, [EXTENSION_MODULE]);
  assert.deepEqual(facts.errors, []);
}

function assertUefi(facts: BootFacts, secureboot: boolean): void {
  assert.equal(facts.boot, "uefi");
  assert.equal(facts.secureboot, secureboot ? "enabled" : "disabled");
}

/** GRUB (SeaBIOS boots of the dual-boot disks) puts BOOT_IMAGE= in front, as on real Talos. */
const withoutBootImage = (cmdline: string | undefined) => cmdline?.trim().replace(/^BOOT_IMAGE=\S+ /, "");

describe("factory-served cells boot", { concurrency: true, timeout: TEST_TIMEOUT }, () => {
  it("arm64 PXE: the script's kernel, initramfs and command line boot under AAVMF", async () => {
    const res = await fetch(`${f.url}/pxe/${id}/${VERSION}/metal-arm64`);
    const script = await res.text();
    assert.equal(res.status, 200, script);
    const kernelLine = /^kernel (\S+) (.*)$/m.exec(script);
    const initrdLine = /^initrd (\S+)$/m.exec(script);
    assert.ok(kernelLine?.[1] && kernelLine[2] !== undefined && initrdLine?.[1], script);
    assert.equal(kernelLine[2], expected("cmdline", { arch: "arm64" }));
    for (const url of [kernelLine[1], initrdLine[1]])
      assert.ok(url.startsWith(`${f.url}/image/${id}/${VERSION}/`), url);
    assert.ok(
      kernelLine[1].endsWith("/kernel-arm64") && initrdLine[1].endsWith("/initramfs-arm64.xz"),
      script,
    );
    const vmlinuz = await fetchTo(kernelLine[1], "pxe-kernel-arm64");
    const initramfs = await fetchTo(initrdLine[1], "pxe-initramfs-arm64.xz");
    const facts = await bootFacts("arm64", "uefi", {
      kind: "kernel",
      vmlinuz,
      initramfs,
      cmdline: kernelLine[2],
    });
    assert.equal(facts.arch, "aarch64");
    assertUefi(facts, false);
    // The firmware's kernel loader (AAVMF, fed by QEMU's -kernel/-initrd, as iPXE feeds it on a
    // real arm64 machine) appends `initrd=initrd` to the command line it hands to the EFI stub.
    assert.equal(facts.cmdline?.trim().replace(/ initrd=initrd$/, ""), kernelLine[2]);
    assertExtensions(facts);
  });

  it("SecureBoot UKI on its own boots under OVMF with Secure Boot enforced", async () => {
    // The certificate the factory serves is the one the firmware's db trusts.
    const pem = await fetchTo(`${f.url}/secureboot/signing-cert.pem`, "signing-cert.pem");
    const fingerprint = async (p: string) =>
      (await run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", p])).stdout;
    assert.equal(await fingerprint(pem), await fingerprint(SNAKEOIL.cert));
    const uki = await download("metal-amd64-secureboot-uki.efi");
    await run("sbverify", ["--cert", join(keys, KEY_FILES.ukiSigningCert), uki]);
    const facts = await bootFacts("amd64", "secureboot-snakeoil", { kind: "uki", path: uki });
    assertUefi(facts, true);
    assert.equal(facts.cmdline?.trim(), expected("uki", { secureboot: true }));
    assertExtensions(facts);
  });

  it("qcow2 image, opened by QEMU's qcow2 driver, boots under SeaBIOS", async () => {
    const qcow2 = await download("metal-amd64.qcow2");
    assert.equal(await detectedFormat(qcow2), "qcow2");
    const facts = await bootFacts("amd64", "bios", { kind: "disk", path: qcow2, format: "qcow2" });
    assert.equal(facts.boot, "bios");
    assert.equal(facts.secureboot, "disabled");
    assert.equal(withoutBootImage(facts.cmdline), expected("image"));
    assertExtensions(facts);
  });

  it("VHD image, opened by QEMU's vpc driver, boots under OVMF", async () => {
    const vhd = await download("metal-amd64.vhd");
    // A VHD footer (cookie `conectix`) ends the file; QEMU's vpc driver reads the disk behind it.
    const fh = await open(vhd, "r");
    const { size } = await fh.stat();
    const footer = Buffer.alloc(512);
    await fh.read(footer, 0, 512, size - 512);
    await fh.close();
    assert.equal(footer.toString("latin1", 0, 8), "conectix");
    const info = await qemuInfo(vhd, "vpc");
    assert.equal(info.format, "vpc");
    assert.ok(info["virtual-size"] >= size - 512 - 64 * 1024 * 1024, `${info["virtual-size"]} of ${size}`);
    const facts = await bootFacts("amd64", "uefi", { kind: "disk", path: vhd, format: "vpc" });
    assertUefi(facts, false);
    assert.equal(facts.cmdline?.trim(), expected("image"));
    assertExtensions(facts);
  });

  it("OVA: its tar's VMDK, opened by QEMU's vmdk driver, boots under SeaBIOS", async () => {
    const ova = await download("metal-amd64.ova");
    const out = join(dir, "ova");
    await mkdir(out);
    await run("tar", ["-xf", ova, "-C", out]);
    const files = (await readdir(out)).sort();
    const ovf = files.find((n) => n.endsWith(".ovf"));
    const vmdk = files.find((n) => n.endsWith(".vmdk"));
    assert.ok(ovf && vmdk, files.join(" "));
    // The descriptor names the disk file the tar carries.
    assert.ok((await readFile(join(out, ovf), "utf8")).includes(`ovf:href="${vmdk}"`), "OVF names the VMDK");
    assert.equal(await detectedFormat(join(out, vmdk)), "vmdk");
    const facts = await bootFacts("amd64", "bios", { kind: "disk", path: join(out, vmdk), format: "vmdk" });
    assert.equal(facts.boot, "bios");
    assert.equal(withoutBootImage(facts.cmdline), expected("image"));
    assertExtensions(facts);
  });

  it("UEFI ISO boots under OVMF (systemd-boot, the UKI's default profile)", async () => {
    const iso = await download("metal-amd64.iso");
    const facts = await bootFacts("amd64", "uefi", { kind: "iso", path: iso });
    assertUefi(facts, false);
    assert.equal(facts.cmdline?.trim(), expected("iso"));
    assertExtensions(facts);
  });

  it("UEFI raw disk image (zstd) boots under OVMF", async () => {
    const raw = await decompressed(await download("metal-amd64.raw.zst"));
    const facts = await bootFacts("amd64", "uefi", { kind: "disk", path: raw });
    assertUefi(facts, false);
    assert.equal(facts.cmdline?.trim(), expected("image"));
    assertExtensions(facts);
    assert.ok(
      facts.diskLabels.includes("EFI") && facts.diskLabels.includes("META"),
      facts.diskLabels.join(" "),
    );
  });

  it("SecureBoot ISO boots under OVMF with Secure Boot enforced", async () => {
    const iso = await download("metal-amd64-secureboot.iso");
    const facts = await bootFacts("amd64", "secureboot-snakeoil", { kind: "iso", path: iso });
    assertUefi(facts, true);
    assert.equal(facts.cmdline?.trim(), expected("iso", { secureboot: true }));
    assertExtensions(facts);
  });

  it("SecureBoot raw disk image (zstd) boots under OVMF with Secure Boot enforced", async () => {
    const raw = await decompressed(await download("metal-amd64-secureboot.raw.zst"));
    const facts = await bootFacts("amd64", "secureboot-snakeoil", { kind: "disk", path: raw });
    assertUefi(facts, true);
    assert.equal(facts.cmdline?.trim(), expected("image", { secureboot: true }));
    assertExtensions(facts);
  });
});

/** Decompresses a `.zst` download next to it (sparse) and removes the compressed file. */
async function decompressed(path: string): Promise<string> {
  const out = path.replace(/\.zst$/, "");
  await run("zstd", ["-q", "-d", "-f", "--sparse", path, "-o", out]);
  await rm(path, { force: true });
  return out;
}

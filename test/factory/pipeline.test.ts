/**
 * The factory on the real imager pipeline against the fixture release: a schematic with two
 * fixture extensions and kernel args downloaded as kernel, cmdline, initramfs, UKI and ISO (the
 * second download a cache hit, the initramfs with extensions built once for every kind), then
 * what the factory served booted in QEMU under SeaBIOS: the ISO, the PXE route's
 * kernel+initramfs+cmdline, and the raw disk image. The fixture init must report both extensions, the virtual
 * `schematic` extension with the schematic ID, and the kernel args.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { EXTENSION_MODULE } from "../../fixtures/index.js";
import { boot } from "../qemu/boot.js";
import { startFactory, type TestFactory } from "./harness.js";

const run = promisify(execFile);
const VERSION = "v1.11.0";
const EXTENSIONS = ["siderolabs/bootforge-hello", "siderolabs/bootforge-dummy-module"];
// The last console is the serial port QEMU shows, so the fixture's facts are readable.
const ARGS = ["console=ttyS0", "bootforge.factory=yes"];
const SCHEMATIC = [
  "customization:",
  "  extraKernelArgs:",
  ...ARGS.map((a) => `    - ${a}`),
  "  systemExtensions:",
  "    officialExtensions:",
  ...EXTENSIONS.map((e) => `      - ${e}`),
  "",
].join("\n");

const expected = (kind: "cmdline" | "iso") =>
  buildKernelCmdline({
    platform: "metal",
    arch: "amd64",
    version: VERSION,
    outputKind: kind,
    secureboot: false,
    extraKernelArgs: ARGS,
  }).toString();

/** The metric's value for an exact label set (0 when absent). */
function metric(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("factory assets built by the imager pipeline", () => {
  let f: TestFactory;
  let id = "";
  let dir = "";
  const files = new Map<string, string>();

  const download = async (name: string): Promise<{ path: string; res: Response; bytes: Buffer }> => {
    const res = await fetch(`${f.url}/image/${id}/${VERSION}/${name}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, `${name}: ${bytes.toString("utf8", 0, 400)}`);
    assert.equal(res.headers.get("content-length"), String(bytes.length));
    assert.equal(res.headers.get("content-disposition"), `attachment; filename="${name}"`);
    const path = join(dir, name);
    await writeFile(path, bytes);
    files.set(name, path);
    return { path, res, bytes };
  };
  const metrics = async () => (await fetch(`${f.url}/metrics`)).text();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bootforge-factory-assets-"));
    f = await startFactory();
    const r = await fetch(`${f.url}/schematics`, { method: "POST", body: SCHEMATIC });
    assert.equal(r.status, 201);
    id = ((await r.json()) as { id: string }).id;
  });
  after(async () => {
    await f.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("downloads kernel, cmdline, initramfs, UKI and ISO; the extension initramfs is built once", async () => {
    const kernel = await download("kernel-amd64");
    assert.ok(kernel.bytes.length > 1_000_000, "a real kernel");
    const cmdline = await download("cmdline-metal-amd64");
    assert.equal(cmdline.bytes.toString(), expected("cmdline"));
    const initramfs = await download("initramfs-amd64.xz");
    assert.ok(initramfs.bytes.length > kernel.bytes.length / 10);
    const uki = await download("metal-amd64-uki.efi");
    assert.equal(uki.bytes.toString("latin1", 0, 2), "MZ");
    assert.equal(uki.res.headers.get("content-type"), "application/efi");
    const iso = await download("metal-amd64.iso");
    assert.equal(iso.bytes.toString("latin1", 0x8001, 0x8006), "CD001");
    assert.equal(iso.res.headers.get("content-type"), "application/x-iso9660-image");

    const m = await metrics();
    for (const kind of ["kernel", "initramfs", "uki", "iso"]) {
      const built = `image_factory_assets_built_total{output_kind="${kind}",talos_version="${VERSION}",arch="amd64"}`;
      assert.equal(metric(m, built), 1, built);
    }
    // initramfs, UKI and ISO share one rebuilt initramfs (same schematic, version and arch).
    assert.equal(metric(m, 'bootforge_layer_cache_total{layer="initramfs",result="miss"}'), 1);
    assert.equal(metric(m, 'bootforge_layer_cache_total{layer="initramfs",result="hit"}'), 2);
  });

  it("a second download is a cache hit (same ETag, not built again)", async () => {
    const first = await fetch(`${f.url}/image/${id}/${VERSION}/metal-amd64.iso`, { method: "HEAD" });
    const again = await download("metal-amd64.iso");
    assert.equal(again.res.headers.get("etag"), first.headers.get("etag"));
    const m = await metrics();
    const labels = `{output_kind="iso",talos_version="${VERSION}",arch="amd64"}`;
    assert.equal(metric(m, `image_factory_assets_built_total${labels}`), 1);
    assert.ok(metric(m, `image_factory_assets_delivered_cached_total${labels}`) >= 2);
  });

  it("the served ISO boots under SeaBIOS with the schematic's extensions and kernel args", async () => {
    const iso = files.get("metal-amd64.iso");
    assert.ok(iso, "ISO downloaded by the first test");
    const { facts } = await boot({ arch: "amd64", firmware: "bios", media: { kind: "iso", path: iso } });
    assert.equal(facts.boot, "bios");
    // GRUB puts BOOT_IMAGE= in front, as on real Talos.
    assert.equal(facts.cmdline?.trim().replace(/^BOOT_IMAGE=\S+ /, ""), expected("iso"));
    assertExtensions(facts.extensions, facts.modules, id);
  });

  it("the served raw disk image (zstd) boots under SeaBIOS with the same extensions", async () => {
    const { path } = await download("metal-amd64.raw.zst");
    const raw = join(dir, "metal-amd64.raw");
    await run("zstd", ["-q", "-d", "-f", path, "-o", raw]);
    const { facts } = await boot({ arch: "amd64", firmware: "bios", media: { kind: "disk", path: raw } });
    assert.equal(facts.boot, "bios");
    assert.ok(facts.cmdline?.includes("bootforge.factory=yes"), facts.cmdline);
    assertExtensions(facts.extensions, facts.modules, id);
    await rm(raw, { force: true });
  });

  it("the PXE script's kernel, initramfs and command line boot with the same extensions", async () => {
    const res = await fetch(`${f.url}/pxe/${id}/${VERSION}/metal-amd64`);
    assert.equal(res.status, 200);
    const script = await res.text();
    const kernelLine = /^kernel (\S+) (.*)$/m.exec(script);
    const initrdLine = /^initrd (\S+)$/m.exec(script);
    assert.ok(kernelLine?.[1] && kernelLine[2] !== undefined && initrdLine?.[1], script);
    assert.equal(kernelLine[2], expected("cmdline"));
    const fetchTo = async (url: string, name: string) => {
      assert.ok(url.startsWith(`${f.url}/image/${id}/${VERSION}/`), url);
      const r = await fetch(url);
      assert.equal(r.status, 200, url);
      const path = join(dir, `pxe-${name}`);
      await writeFile(path, Buffer.from(await r.arrayBuffer()));
      return path;
    };
    const vmlinuz = await fetchTo(kernelLine[1], "kernel");
    const initramfs = await fetchTo(initrdLine[1], "initramfs");
    const { facts } = await boot({
      arch: "amd64",
      firmware: "bios",
      media: { kind: "kernel", vmlinuz, initramfs, cmdline: kernelLine[2] },
    });
    assert.equal(facts.cmdline?.trim(), kernelLine[2]);
    assert.ok(facts.cmdline?.includes("bootforge.factory=yes"));
    assertExtensions(facts.extensions, facts.modules, id);
  });
});

/** Both fixture extensions in schematic order, then the virtual `schematic` one versioned by ID. */
function assertExtensions(extensions: string[], modules: string[], id: string): void {
  const names = extensions.map((e) => e.split("@")[0]);
  assert.deepEqual(
    names.filter((n) => n !== "modules.dep"),
    ["bootforge-hello", "bootforge-dummy-module", "schematic"],
    extensions.join(" "),
  );
  assert.ok(extensions.includes(`schematic@${id}`), extensions.join(" "));
  assert.deepEqual(modules, [EXTENSION_MODULE]);
}

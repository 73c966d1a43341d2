import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isBootforgeError } from "../../errors/index.js";
import { bytesOf } from "./byte-source.js";
import { findSection } from "../../formats/pe/pe-reader.js";
import { readPeHeaders, readSectionData } from "./pe-file.js";
import { bootforgeSplash } from "../../formats/pe/splash-bmp.js";
import {
  extraUkiProfiles,
  kernelVersionFromBzImage,
  osRelease,
  profileText,
} from "../../formats/pe/uki-sections.js";
import { buildUki, layoutUki } from "./uki.js";
import { DEBIAN_STUB, fakeBzImage, requireTool } from "./test-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "bootforge-uki-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const kernel = join(dir, "vmlinuz");
writeFileSync(kernel, fakeBzImage("6.18.45-talos"));
const initrd = join(dir, "initramfs.xz");
writeFileSync(initrd, Buffer.alloc(300 * 1024, 7));
const cmdline = "talos.platform=metal console=ttyS0";

/** Section names in file order, as objdump lists them. */
function objdumpSections(path: string): string[] {
  const out = execFileSync("objdump", ["-h", path], { encoding: "utf8" });
  return [...out.matchAll(/^\s+\d+\s+(\S+)\s+[0-9a-f]{8}\s/gm)].map((m) => m[1]!);
}

describe("UKI sections", () => {
  test("os-release is upstream's template", () => {
    assert.equal(
      osRelease("v1.10.0"),
      'NAME="Talos"\nID=talos\nVERSION_ID=v1.10.0\nPRETTY_NAME="Talos (v1.10.0)"\nHOME_URL="https://www.talos.dev/"\n' +
        'BUG_REPORT_URL="https://github.com/siderolabs/talos/issues"\nVENDOR_NAME="Sidero Labs"\nVENDOR_URL="https://www.siderolabs.com/"\n',
    );
    assert.match(osRelease("v1", "My OS"), /^NAME="My OS"\nID=my_os\n/);
  });

  test("kernel version comes from the bzImage header, absent otherwise", () => {
    assert.equal(kernelVersionFromBzImage(fakeBzImage("6.1.0-13-amd64")), "6.1.0-13-amd64");
    assert.equal(kernelVersionFromBzImage(Buffer.alloc(4096)), undefined);
  });

  test("profiles", () => {
    assert.equal(profileText({ id: "main" }), "ID=main");
    assert.equal(
      profileText({ id: "reset", title: "Reset system disk" }),
      "ID=reset\nTITLE=Reset system disk",
    );
    assert.deepEqual(extraUkiProfiles("iso", "a=b"), [
      { id: "reset", title: "Reset system disk", cmdline: "a=b talos.experimental.wipe=system" },
    ]);
    assert.equal(
      extraUkiProfiles("installer", "x")[0]!.cmdline,
      "x talos.experimental.wipe=system:EPHEMERAL,STATE",
    );
  });

  test("the splash is a deterministic 24-bit BMP", () => {
    const bmp = bootforgeSplash();
    assert.equal(bmp.toString("latin1", 0, 2), "BM");
    assert.equal(bmp.readUInt16LE(28), 24);
    assert.ok(bmp.equals(bootforgeSplash()));
  });
});

describe("buildUki", () => {
  requireTool("objdump", "binutils");
  requireTool(DEBIAN_STUB, "systemd-boot-efi");

  test("≥ 1.10: upstream order with profiles, verified by objdump", async () => {
    const out = join(dir, "uki-1.10.efi");
    await buildUki(
      {
        stub: DEBIAN_STUB,
        kernel: { path: kernel },
        initrd: { path: initrd },
        cmdline,
        version: "v1.10.3",
        profiles: extraUkiProfiles("iso", cmdline),
        timestamp: 1700000000,
      },
      out,
    );
    const stubNames = (await readPeHeaders(DEBIAN_STUB)).sections.map((s) => s.name);
    assert.deepEqual(objdumpSections(out), [
      ...stubNames,
      ".osrel",
      ".cmdline",
      ".uname",
      ".splash",
      ".linux",
      ".initrd",
      ".profile",
      ".profile",
      ".cmdline",
    ]);
    const h = await readPeHeaders(out);
    const text = async (name: string) =>
      (await readSectionData(out, findSection(h, name)!)).toString("latin1");
    assert.equal(await text(".cmdline"), cmdline);
    assert.equal(await text(".uname"), "6.18.45-talos");
    assert.equal(await text(".profile"), "ID=main");
    assert.ok((await readSectionData(out, findSection(h, ".linux")!)).equals(readFileSync(kernel)));
    const profiles = h.sections.filter((s) => s.name === ".profile");
    assert.equal((await readSectionData(out, profiles[1]!)).toString(), "ID=reset\nTITLE=Reset system disk");
    const cmdlines = h.sections.filter((s) => s.name === ".cmdline");
    assert.equal(
      (await readSectionData(out, cmdlines[1]!)).toString(),
      `${cmdline} talos.experimental.wipe=system`,
    );
  });

  test("the laid-out size is the written file's, and a layout writes what buildUki writes", async () => {
    for (const version of ["v1.9.5", "v1.10.3"]) {
      const inputs = {
        stub: DEBIAN_STUB,
        kernel: { path: kernel },
        initrd: { path: initrd },
        cmdline,
        version,
        timestamp: 1700000000,
      };
      const layout = await layoutUki(inputs);
      const viaLayout = join(dir, `layout-${version}.efi`);
      const direct = join(dir, `direct-${version}.efi`);
      await layout.write(viaLayout);
      await buildUki(inputs, direct);
      assert.equal(statSync(viaLayout).size, layout.size);
      assert.ok(readFileSync(viaLayout).equals(readFileSync(direct)));
    }
  });

  test("< 1.10: no profiles; unknown kernel format omits .uname; same inputs, same bytes", async () => {
    const a = join(dir, "a.efi");
    const b = join(dir, "b.efi");
    const inputs = {
      stub: DEBIAN_STUB,
      kernel: bytesOf(Buffer.alloc(8192, 1)),
      initrd: { path: initrd },
      cmdline,
      version: "v1.9.5",
    };
    const env = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = "1234567890";
    try {
      await buildUki(inputs, a);
      await buildUki(inputs, b);
    } finally {
      if (env === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = env;
    }
    assert.deepEqual(objdumpSections(a).slice(-5), [".osrel", ".cmdline", ".splash", ".linux", ".initrd"]);
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    assert.equal((await readPeHeaders(a)).fileHeader.timeDateStamp, 1234567890);
  });

  test("'main' is a reserved profile ID", async () => {
    await assert.rejects(
      buildUki(
        {
          stub: DEBIAN_STUB,
          kernel: { path: kernel },
          initrd: { path: initrd },
          cmdline,
          version: "v1.10.0",
          profiles: [{ id: "main" }],
        },
        join(dir, "x.efi"),
      ),
      (e) => isBootforgeError(e, "invalid-input"),
    );
  });
});

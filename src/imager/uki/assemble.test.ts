import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isBootforgeError } from "../../errors/index.js";
import { assemblePe, layoutPe } from "./assemble.js";
import { readPeHeaders } from "./pe-file.js";
import { DEBIAN_STUB, requireTool } from "./test-fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "bootforge-pe-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** objdump -x with the file name and the fields upstream also ignores normalised. */
function headersOf(path: string): string {
  return execFileSync("objdump", ["-x", path], { encoding: "utf8" })
    .replaceAll(path, "uki.bin")
    .replace(/(CheckSum\s+)[0-9a-fA-F]+/, "$1" + "00000000")
    .replace(/((Major|Minor)LinkerVersion\s+)[0-9.]+/g, "$10")
    .replace(/(Time\/Date\s+).*/, "$1-");
}

function sectionBytes(path: string, name: string): Buffer {
  const out = join(dir, `extract-${name}`);
  execFileSync("objcopy", ["-O", "binary", "--only-section", name, path, out]);
  return readFileSync(out);
}

describe("assemblePe", () => {
  requireTool("objdump", "binutils");
  requireTool(DEBIAN_STUB, "systemd-boot-efi");

  test("lays out sections like objcopy --add-section (upstream's cross-check)", async () => {
    // objcopy keeps a COFF symbol table, we drop it: compare on a stripped stub.
    const stripped = join(dir, "stripped.stub");
    execFileSync("objcopy", ["--strip-all", DEBIAN_STUB, stripped]);
    const uname = join(dir, "uname");
    writeFileSync(uname, "Talos");
    const linux = join(dir, "linux");
    writeFileSync(linux, Buffer.alloc(1 << 20, 0xde));
    const native = join(dir, "native.efi");
    const placed = await assemblePe(
      {
        stub: stripped,
        timestamp: 1609459200,
        sections: [
          { name: ".uname", source: { path: uname } },
          { name: ".linux", source: { path: linux } },
        ],
      },
      native,
    );
    const stub = await readPeHeaders(DEBIAN_STUB);
    const lastStub = stub.sections.at(-1)!;
    const align = (v: number) => Math.ceil(v / stub.sectionAlignment) * stub.sectionAlignment;
    const vmaUname = align(lastStub.virtualAddress + lastStub.virtualSize);
    const vmaLinux = align(vmaUname + 5);
    assert.deepEqual(
      placed.slice(-2).map((p) => [p.name, p.virtualAddress, p.virtualSize]),
      [
        [".uname", vmaUname, 5],
        [".linux", vmaLinux, 1 << 20],
      ],
    );

    const viaObjcopy = join(dir, "objcopy.efi");
    const base = stub.imageBase;
    execFileSync("objcopy", [
      "--add-section",
      `.uname=${uname}`,
      "--change-section-vma",
      `.uname=0x${(base + BigInt(vmaUname)).toString(16)}`,
      "--add-section",
      `.linux=${linux}`,
      "--change-section-vma",
      `.linux=0x${(base + BigInt(vmaLinux)).toString(16)}`,
      stripped,
      viaObjcopy,
    ]);
    assert.equal(headersOf(native), headersOf(viaObjcopy));
    for (const name of [".text", ".data", ".sbat", ".sdmagic", ".reloc", ".uname", ".linux"]) {
      assert.deepEqual(sectionBytes(native, name), sectionBytes(viaObjcopy, name), name);
    }

    const fromUnstripped = join(dir, "unstripped.efi");
    await assemblePe(
      {
        stub: DEBIAN_STUB,
        timestamp: 1609459200,
        sections: [
          { name: ".uname", source: { path: uname } },
          { name: ".linux", source: { path: linux } },
        ],
      },
      fromUnstripped,
    );
    assert.ok(
      readFileSync(fromUnstripped).equals(readFileSync(native)),
      "symbols dropped, nothing else changes",
    );

    const out = await readPeHeaders(native);
    assert.equal(out.fileHeader.timeDateStamp, 1609459200);
    assert.equal(out.peOffset, 0x80);
    assert.equal(out.checkSum, 0);
  });

  test("keeps a short optional header (6 data directories, like Debian's arm64 gnu-efi stub)", async () => {
    // Rewrite the amd64 stub's header to 6 data directories, moving the section table up.
    const stub = Buffer.from(readFileSync(DEBIAN_STUB));
    const pe = stub.readUInt32LE(0x3c);
    const oh = pe + 24;
    const sections = stub.readUInt16LE(pe + 6);
    const table = Buffer.from(stub.subarray(oh + 240, oh + 240 + 40 * sections));
    stub.writeUInt16LE(160, pe + 20);
    stub.writeUInt32LE(6, oh + 108);
    stub.fill(0, oh + 160, oh + 240 + 40 * sections);
    table.copy(stub, oh + 160);
    const short = join(dir, "short.stub");
    writeFileSync(short, stub);
    const out = join(dir, "short.efi");
    await assemblePe(
      { stub: short, timestamp: 0, sections: [{ name: ".cmdline", source: { bytes: Buffer.from("x") } }] },
      out,
    );
    const h = await readPeHeaders(out);
    assert.equal(h.optionalHeader.length, 160);
    assert.equal(h.dataDirectories.length, 6);
    assert.deepEqual(
      h.sections.map((x) => x.name),
      [...(await readPeHeaders(DEBIAN_STUB)).sections.map((x) => x.name), ".cmdline"],
    );
    assert.ok(h.certificateTableEntryOffset > 0, "still signable");
  });

  test("refuses a stub that is not PE", async () => {
    const notPe = join(dir, "not-pe");
    writeFileSync(notPe, "hello");
    await assert.rejects(assemblePe({ stub: notPe, sections: [] }, join(dir, "x")), (e) =>
      isBootforgeError(e, "invalid-input"),
    );
  });

  test("a section file that changes size between layout and write is an error, not a corrupt image", async () => {
    const stripped = join(dir, "stripped-2.stub");
    execFileSync("objcopy", ["--strip-all", DEBIAN_STUB, stripped]);
    const initrd = join(dir, "growing-initrd");
    // Larger than one copy chunk, so the size is checked across reads.
    writeFileSync(initrd, Buffer.alloc(1_500_000, 7));
    const grown = await layoutPe({
      stub: stripped,
      sections: [{ name: ".initrd", source: { path: initrd } }],
    });
    writeFileSync(initrd, Buffer.alloc(1_500_000 + 8192, 7));
    await assert.rejects(grown.write(join(dir, "grown.efi")), /section \.initrd grew while being written/);
    const shrunk = await layoutPe({
      stub: stripped,
      sections: [{ name: ".initrd", source: { path: initrd } }],
    });
    writeFileSync(initrd, Buffer.alloc(1000, 7));
    await assert.rejects(shrunk.write(join(dir, "shrunk.efi")), /section \.initrd changed size/);
    const missing = await layoutPe({
      stub: stripped,
      sections: [{ name: ".initrd", source: { path: initrd } }],
    });
    rmSync(initrd);
    await assert.rejects(missing.write(join(dir, "missing.efi")), (e) => isBootforgeError(e, "io"));
  });
});

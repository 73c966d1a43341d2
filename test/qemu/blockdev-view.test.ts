/** The sector-size shim: sgdisk reads a 4K-sector GPT file only through it, and reads it right. */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { GPT_TYPE, planGpt } from "../../src/formats/gpt.js";
import { createGptImage } from "../../src/imager/disk/gpt-file.js";
import { guidFromLabel } from "../../src/formats/guid.js";
import { runWithSectorSize } from "./blockdev-view.js";

const MIB = 1024 * 1024;

test("sgdisk sees a 4K-sector GPT file with the shim at 4096 and none without it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "blockdev-view-"));
  try {
    const path = join(dir, "4k.raw");
    const part = (name: string, size: number) => ({
      name,
      type: name === "EFI" ? GPT_TYPE.efi : GPT_TYPE.linuxData,
      guid: guidFromLabel(name),
      size,
    });
    const table = planGpt(
      { diskSize: 64 * MIB, sectorSize: 4096, diskGuid: guidFromLabel("talos-image-disk") },
      [part("EFI", 16 * MIB), part("META", MIB)],
    );
    await createGptImage(path, 64 * MIB, table);

    const p = runWithSectorSize(4096, "sgdisk", ["-p", path]);
    assert.equal(p.status, 0, p.stderr);
    assert.match(p.stdout, /Sector size \(logical\/physical\): 4096\/4096 bytes/);
    assert.match(p.stdout, /Disk .*: 16384 sectors/);
    // 1 MiB alignment is 256 four-KiB sectors
    assert.match(p.stdout, /^\s+1\s+256\s+4351\s+16\.0 MiB\s+EF00\s+EFI$/m);
    assert.match(p.stdout, /^\s+2\s+4352\s+4607\s+1024\.0 KiB\s+8300\s+META$/m);
    const v = runWithSectorSize(4096, "sgdisk", ["-v", path]);
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /No problems found/);

    // As 512-byte sectors the same file has a protective MBR and no GPT header at LBA 1.
    const as512 = runWithSectorSize(512, "sgdisk", ["-p", path]);
    assert.doesNotMatch(as512.stdout, /EFI$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

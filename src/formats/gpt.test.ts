import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createGptImage, readGpt } from "../imager/disk/gpt-file.js";
import { run } from "../imager/tools/run.js";
import {
  GPT_ATTR_LEGACY_BIOS_BOOTABLE,
  GPT_TYPE,
  planGpt,
  type GptPartitionSpec,
  type GptTable,
} from "./gpt.js";
import { guidFromLabel, gptBytesToUuid, uuidToGptBytes } from "./guid.js";

const MIB = 1024 * 1024;
let dir = "";
before(async () => (dir = await mkdtemp(join(tmpdir(), "bootforge-gpt-"))));
after(async () => rm(dir, { recursive: true, force: true }));

const spec = (name: string, type: string, size: number, attributes?: bigint): GptPartitionSpec => ({
  name,
  type,
  size,
  guid: guidFromLabel(name),
  ...(attributes === undefined ? {} : { attributes }),
});

// metal amd64 ≥ 1.11, dual-boot: the layout imager.md §5.3 shows (4247 MiB, 512-byte sectors).
const DUAL_BOOT = [
  spec("EFI", GPT_TYPE.efi, 2101 * MIB),
  spec("BIOS", GPT_TYPE.biosBoot, MIB, GPT_ATTR_LEGACY_BIOS_BOOTABLE),
  spec("BOOT", GPT_TYPE.linuxData, 2000 * MIB),
  spec("META", GPT_TYPE.linuxData, MIB),
];

test("guidFromLabel matches upstream makefs vectors", () => {
  assert.equal(guidFromLabel("EFI"), "bca5174b-0118-8a6a-af0b-2c6e1585acae");
  assert.equal(guidFromLabel("BOOT"), "24c73076-4092-85dd-9d98-686a2dbf6d81");
  assert.equal(guidFromLabel("META"), "cf04f137-101e-8ec6-9627-fa3f51cdabb8");
  assert.equal(guidFromLabel("IMAGECACHE"), "3b5449bc-c21f-8009-8b51-18945967f8df");
  const g = uuidToGptBytes(GPT_TYPE.efi);
  assert.equal(g.toString("hex"), "28732ac11ff8d211ba4b00a0c93ec93b");
  assert.equal(gptBytesToUuid(g), GPT_TYPE.efi);
});

test("planGpt reproduces upstream LBAs for the dual-boot metal layout", () => {
  const t = planGpt(
    { diskSize: 4247 * MIB, sectorSize: 512, diskGuid: guidFromLabel("talos-image-disk") },
    DUAL_BOOT,
  );
  assert.deepEqual(
    t.partitions.map((p) => [p.name, p.firstLBA, p.lastLBA]),
    [
      ["EFI", 2048, 4304895],
      ["BIOS", 4304896, 4306943],
      ["BOOT", 4306944, 8402943],
      ["META", 8402944, 8404991],
    ],
  );
  assert.equal(t.firstUsableLBA, 2048);
  assert.equal(t.lastUsableLBA, 4247 * 2048 - 1 - 32 - 1);
});

test("4096-byte sectors align to 256 LBAs; size 0 takes the largest free range; skipLBAs shifts the entries", () => {
  const t = planGpt({ diskSize: 300 * MIB, sectorSize: 4096, diskGuid: guidFromLabel("x") }, [
    spec("META", GPT_TYPE.linuxData, MIB),
    spec("STATE", GPT_TYPE.linuxData, 100 * MIB),
    spec("EPHEMERAL", GPT_TYPE.linuxData, 0),
  ]);
  assert.deepEqual(
    t.partitions.map((p) => [p.firstLBA, p.lastLBA]),
    [
      [256, 511],
      [512, 26111],
      [26112, 76543],
    ],
  );
  const skipped = planGpt(
    { diskSize: 64 * MIB, sectorSize: 512, diskGuid: guidFromLabel("x"), skipLBAs: 4096 },
    [spec("EFI", GPT_TYPE.efi, 8 * MIB)],
  );
  assert.equal(skipped.primaryEntriesLBA, 4098);
  assert.equal(skipped.partitions[0]!.firstLBA, 6144);
  assert.throws(
    () => planGpt({ diskSize: 8 * MIB, sectorSize: 512, diskGuid: guidFromLabel("x") }, DUAL_BOOT),
    /no room/,
  );
});

for (const sectorSize of [512, 4096] as const) {
  test(`written table (${sectorSize}-byte sectors) reads back and passes sgdisk -v and sfdisk`, async () => {
    const path = join(dir, `disk-${sectorSize}.raw`);
    const size = 4247 * MIB;
    const table = planGpt(
      { diskSize: size, sectorSize, diskGuid: guidFromLabel("talos-image-disk") },
      DUAL_BOOT,
    );
    await createGptImage(path, size, table);
    const st = await stat(path);
    assert.equal(st.size, size);
    assert.ok(st.blocks * 512 < MIB, "the image stays sparse");

    const back = await readGpt(path, sectorSize);
    assert.deepEqual(back, table);

    if (sectorSize === 512) {
      // sgdisk assumes 512-byte sectors on regular files
      const { stdout } = await run("sgdisk", ["-v", path]);
      assert.match(stdout.toString(), /No problems found/);
    }
    if (sectorSize === 512) {
      await checkWithSfdisk(path, table);
    } else {
      // Debian 12's sfdisk has no --sector-size; fdisk -b reads 4K-sector images
      const { stdout, stderr } = await run("fdisk", [
        "-b",
        "4096",
        "-l",
        "-o",
        "Device,Start,End,Type-UUID,UUID,Name,Attrs",
        path,
      ]);
      assert.doesNotMatch(stderr, /warn|corrupt|invalid/i);
      const out = stdout.toString();
      assert.match(out, /Disklabel type: gpt/);
      assert.match(out, new RegExp(`Disk identifier: ${guidFromLabel("talos-image-disk")}`, "i"));
      for (const p of table.partitions) {
        assert.match(
          out,
          new RegExp(`${p.firstLBA}\\s+${p.lastLBA}\\s+${p.type}\\s+${p.guid}\\s+${p.name}`, "i"),
        );
      }
    }
  });
}

async function checkWithSfdisk(path: string, table: GptTable): Promise<void> {
  const { stdout } = await run("sfdisk", ["--json", path]);
  const json = JSON.parse(stdout.toString()) as {
    partitiontable: {
      label: string;
      id: string;
      partitions: { start: number; size: number; type: string; uuid: string; name: string; attrs?: string }[];
    };
  };
  const pt = json.partitiontable;
  assert.equal(pt.label, "gpt");
  assert.equal(pt.id.toLowerCase(), table.diskGuid);
  assert.deepEqual(
    pt.partitions.map((p) => [
      p.name,
      p.start,
      p.size,
      p.type.toLowerCase(),
      p.uuid.toLowerCase(),
      p.attrs ?? "",
    ]),
    table.partitions.map((p) => [
      p.name,
      p.firstLBA,
      p.lastLBA - p.firstLBA + 1,
      p.type,
      p.guid,
      p.attributes === GPT_ATTR_LEGACY_BIOS_BOOTABLE ? "LegacyBIOSBootable" : "",
    ]),
  );
}

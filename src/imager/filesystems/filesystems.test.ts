import assert from "node:assert/strict";
import { mkdtemp, rm, stat, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { run } from "../tools/run.js";
import { makeExt4Image } from "./ext4.js";
import { makeFatImage } from "./fat.js";
import { guidFromLabel } from "../../formats/guid.js";
import { readTree } from "./source-tree.js";
import { makeSampleTree, sameBytes } from "./test-fixtures.js";
import { makeXfsImage, xfsConfigText, xfsProtofile } from "./xfs.js";

const MIB = 1024 * 1024;
const EPOCH = 1700000000;
let dir = "";
let src = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-fs-"));
  src = join(dir, "src");
  await makeSampleTree(src, true);
});
after(async () => rm(dir, { recursive: true, force: true }));

// Source mtimes must not matter: the second build sees a touched tree.
const touchSource = () => utimes(join(src, "A", "vmlinuz"), new Date(), new Date());

test("protofile: files before directories, $ closes levels, modes and symlinks", async () => {
  const proto = xfsProtofile(await readTree(src));
  const lines = proto.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 4), ["/", "0 0", "d--755 0 0", " current l--777 0 0 A/vmlinuz"]);
  assert.ok(lines.includes(`  grub.cfg ---600 0 0 ${join(src, "grub", "grub.cfg")}`));
  assert.equal(lines.at(-1), "$");
  assert.ok(proto.indexOf(" zz-last ") < proto.indexOf(" A d--755"), "files come before directories");
});

test("xfs config: upstream feature sets trimmed to what the host's mkfs.xfs knows", () => {
  const old = xfsConfigText("lts_6.18.conf", [6, 1, 0]);
  assert.deepEqual(old.dropped, ["exchange=1", "parent=1"]);
  assert.match(old.text, /\[inode\]\nsparse=1\nnrext64=1\n/);
  assert.doesNotMatch(old.text, /metadir|naming/);
  const recent = xfsConfigText("lts_6.18.conf", [6, 18, 0]);
  assert.deepEqual(recent.dropped, []);
  assert.match(recent.text, /\[naming\]\nparent=1/);
});

test("FAT image: reproducible, passes fsck.vfat, holds the tree", async () => {
  const a = join(dir, "efi-a.img");
  const b = join(dir, "efi-b.img");
  await makeFatImage({ path: a, size: 40 * MIB, sourceDir: src, epoch: EPOCH });
  await touchSource();
  await makeFatImage({ path: b, size: 40 * MIB, sourceDir: src, epoch: EPOCH });
  assert.ok(await sameBytes(a, b));
  assert.equal((await stat(a)).size, 40 * MIB);
  await run("fsck.vfat", ["-n", a]);
  const env = { MTOOLS_SKIP_CHECK: "1" };
  const { stdout } = await run("mdir", ["-/", "-b", "-i", a, "::"], { env });
  assert.deepEqual(stdout.toString().trim().split("\n").sort(), [
    "::/A/",
    "::/A/initramfs.xz",
    "::/A/vmlinuz",
    "::/current",
    "::/grub/",
    "::/grub/fonts/",
    "::/grub/fonts/empty",
    "::/grub/grub.cfg",
    "::/zz-last",
  ]);
});

test("XFS image: reproducible, passes xfs_repair -n, label, UUID and contents", async () => {
  const a = join(dir, "boot-a.img");
  const b = join(dir, "boot-b.img");
  const opts = { size: 300 * MIB, sourceDir: src, configName: "lts_6.12.conf", epoch: EPOCH };
  await makeXfsImage({ path: a, ...opts });
  await touchSource();
  await makeXfsImage({ path: b, ...opts });
  assert.ok(await sameBytes(a, b));
  await run("xfs_repair", ["-n", a]);
  const { stdout } = await run("xfs_db", ["-r", "-c", "label", "-c", "uuid", "-c", "ls /grub", a]);
  const out = stdout.toString();
  assert.match(out, /label = "BOOT"/);
  assert.match(out, new RegExp(`UUID = ${guidFromLabel("BOOT")}`));
  assert.match(out, /grub\.cfg/);
  rmQuiet(a, b);
});

test("ext4 image: reproducible, passes e2fsck, label, UUID and contents", async () => {
  const a = join(dir, "cache-a.img");
  const b = join(dir, "cache-b.img");
  await makeExt4Image({ path: a, size: 8 * MIB, sourceDir: src, epoch: EPOCH });
  await touchSource();
  await makeExt4Image({ path: b, size: 8 * MIB, sourceDir: src, epoch: EPOCH });
  assert.ok(await sameBytes(a, b));
  await run("e2fsck", ["-fn", a]);
  const { stdout } = await run("debugfs", ["-R", "cat /grub/grub.cfg", a]);
  assert.match(stdout.toString(), /Talos v1\.11\.0/);
  const stats = (await run("debugfs", ["-R", "stat /grub/grub.cfg", a])).stdout.toString();
  assert.match(stats, /Mode: {2}0600/);
  assert.match(stats, /mtime: 0x6553f100/);
  const sb = (await run("debugfs", ["-R", "stats", a])).stdout.toString();
  assert.match(sb, /Filesystem volume name: {3}IMAGECACHE/);
  assert.match(sb, new RegExp(`Filesystem UUID: {10}${guidFromLabel("IMAGECACHE")}`));
  assert.match(
    (await run("debugfs", ["-R", "stat /current", a])).stdout.toString(),
    /Fast link dest: "A\/vmlinuz"/,
  );
});

function rmQuiet(...paths: string[]): void {
  for (const p of paths) void rm(p, { force: true });
}

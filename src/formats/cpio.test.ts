import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { lutimes, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  entriesFromListing,
  extractCpioMember,
  listCpioFile,
  locateCpioMember,
  walkTree,
  writeCpio,
} from "../imager/initramfs/cpio-file.js";
import { run } from "../imager/tools/run.js";

const EPOCH = 1_700_000_000;
let dir = "";
let tree = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-cpio-"));
  tree = join(dir, "tree");
  await mkdir(join(tree, "usr/lib/firmware/x"), { recursive: true });
  await mkdir(join(tree, "empty"), { recursive: true });
  await writeFile(join(tree, "usr/lib/firmware/x/blob.bin"), Buffer.alloc(70_001, 7));
  await writeFile(join(tree, "a.sqsh"), "abc");
  await writeFile(join(tree, "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
  await writeFile(join(tree, "zero"), "");
  await symlink("a.sqsh", join(tree, "link"));
  // GNU cpio keeps file mtimes; pin them so its output is comparable with ours.
  for (const p of await walkTree(tree)) await lutimes(join(tree, p), EPOCH, EPOCH);
});
after(async () => rm(dir, { recursive: true, force: true }));

async function ours(out: string, root = tree): Promise<void> {
  const paths = await walkTree(root);
  await writeCpio(entriesFromListing(root, paths), createWriteStream(out), { mtime: EPOCH });
}

test("walkTree lists each entry before its children, siblings in byte order", async () => {
  assert.deepEqual(await walkTree(tree), [
    "a.sqsh",
    "empty",
    "link",
    "run.sh",
    "usr",
    "usr/lib",
    "usr/lib/firmware",
    "usr/lib/firmware/x",
    "usr/lib/firmware/x/blob.bin",
    "zero",
  ]);
});

test("writer output equals GNU cpio --reproducible -R +0:+0 byte for byte", async () => {
  const mine = join(dir, "ours.cpio");
  await ours(mine);
  const listing = `${(await walkTree(tree)).join("\n")}\n`;
  const gnu = await run("cpio", ["-H", "newc", "--create", "--reproducible", "--quiet", "-R", "+0:+0"], {
    cwd: tree,
    stdin: listing,
    timeoutMs: 30_000,
  });
  assert.equal((await readFile(mine)).length % 512, 0);
  assert.ok((await readFile(mine)).equals(gnu.stdout));
});

test("GNU cpio lists and extracts what the writer wrote", async () => {
  const mine = join(dir, "ours2.cpio");
  await ours(mine);
  const list = await run("cpio", ["-t", "--quiet", "-F", mine], { timeoutMs: 30_000 });
  assert.deepEqual(list.stdout.toString().trim().split("\n"), await walkTree(tree));
  const out = join(dir, "extract");
  await mkdir(out);
  await run("cpio", ["-i", "-d", "--quiet", "--no-absolute-filenames", "-F", mine], {
    cwd: out,
    timeoutMs: 30_000,
  });
  assert.ok(
    (await readFile(join(out, "usr/lib/firmware/x/blob.bin"))).equals(
      await readFile(join(tree, "usr/lib/firmware/x/blob.bin")),
    ),
  );
  assert.equal(await readFile(join(out, "run.sh"), "utf8"), "#!/bin/sh\n");
});

test("writer is deterministic: file mtimes on disk do not matter", async () => {
  const a = join(dir, "det-a.cpio");
  await ours(a);
  await utimes(join(tree, "a.sqsh"), EPOCH + 99, EPOCH + 99);
  const b = join(dir, "det-b.cpio");
  await ours(b);
  await utimes(join(tree, "a.sqsh"), EPOCH, EPOCH);
  assert.ok((await readFile(a)).equals(await readFile(b)));
});

test("reader walks plain + zstd/xz concatenations of GNU archives and extracts one member", async () => {
  const mk = async (name: string, files: Record<string, string>): Promise<Buffer> => {
    const d = join(dir, `src-${name}`);
    await mkdir(d, { recursive: true });
    for (const [f, c] of Object.entries(files)) await writeFile(join(d, f), c);
    const r = await run("cpio", ["-H", "newc", "-o", "--quiet"], {
      cwd: d,
      stdin: `${Object.keys(files).join("\n")}\n`,
      timeoutMs: 30_000,
    });
    return r.stdout;
  };
  const early = await mk("early", { "GenuineIntel.bin": "ucode" });
  const base = await mk("base", { init: "#!init", "rootfs.sqsh": "ROOTFS".repeat(1000) });
  const ext = await mk("ext", { "0.sqsh": "zero", "extensions.yaml": "layers: []\n" });
  for (const [c1, c2] of [
    ["zstd", "zstd"],
    ["xz", "xz"],
    ["zstd", "xz"],
  ] as const) {
    const z = (await run(c1, ["-c", "-q"], { stdin: base, timeoutMs: 30_000 })).stdout;
    const z2 = (await run(c2, ["-c", "-q"], { stdin: ext, timeoutMs: 30_000 })).stdout;
    const file = join(dir, `initramfs-${c1}-${c2}`);
    // zero padding between segments, as block-aligned writers leave it
    await writeFile(file, Buffer.concat([early, z, Buffer.alloc(512), z2]));
    const members = await listCpioFile(file);
    assert.deepEqual(
      members.map((m) => [m.name, m.archive, m.compression]),
      [
        ["GenuineIntel.bin", 0, "none"],
        ["init", 1, c1],
        ["rootfs.sqsh", 1, c1],
        ["0.sqsh", 2, c2],
        ["extensions.yaml", 2, c2],
      ],
    );
    const dest = join(dir, `rootfs-${c1}-${c2}.sqsh`);
    await extractCpioMember(file, "rootfs.sqsh", dest);
    assert.equal(await readFile(dest, "utf8"), "ROOTFS".repeat(1000));
    await assert.rejects(extractCpioMember(file, "missing", join(dir, "m")), /has no "missing" member/);
  }
  await writeFile(join(dir, "garbage"), "not an archive");
  await assert.rejects(listCpioFile(join(dir, "garbage")), /neither cpio nor xz\/zstd/);
});

test("locateCpioMember finds a member in place, in a decompressed copy, or declines odd layouts", async () => {
  const src = join(dir, "src-locate");
  await mkdir(src, { recursive: true });
  await writeFile(join(src, "init"), "#!init");
  await writeFile(join(src, "rootfs.sqsh"), "SQUASH".repeat(999));
  const cpio = (
    await run("cpio", ["-H", "newc", "-o", "--quiet"], { cwd: src, stdin: "init\nrootfs.sqsh\n" })
  ).stdout;
  const bytesAt = async (l: { path: string; offset: number; size: number }) =>
    (await readFile(l.path)).subarray(l.offset, l.offset + l.size).toString();

  // Plain, two archives with zero padding between: read where it is, nothing written.
  const plain = join(dir, "locate-plain");
  await writeFile(plain, Buffer.concat([cpio, Buffer.alloc(1024), cpio]));
  const scratch = join(dir, "locate-scratch");
  const inPlace = await locateCpioMember(plain, "rootfs.sqsh", scratch);
  assert.equal(inPlace?.path, plain);
  assert.equal(await bytesAt(inPlace), "SQUASH".repeat(999));

  for (const tool of ["zstd", "xz"] as const) {
    const file = join(dir, `locate-${tool}`);
    await writeFile(file, (await run(tool, ["-c", "-q"], { stdin: cpio })).stdout);
    const found = await locateCpioMember(file, "rootfs.sqsh", scratch);
    assert.equal(found?.path, scratch, tool);
    assert.equal(await bytesAt(found), "SQUASH".repeat(999), tool);
    await assert.rejects(locateCpioMember(file, "missing", scratch), /has no "missing" member/);
  }

  // Found in a leading plain archive before anything else: in place.
  const z = (await run("zstd", ["-c", "-q"], { stdin: cpio })).stdout;
  await writeFile(join(dir, "locate-first"), Buffer.concat([cpio, z]));
  assert.equal(
    (await locateCpioMember(join(dir, "locate-first"), "rootfs.sqsh", scratch))?.offset,
    inPlace.offset,
  );
  // Only in a compressed archive after a plain one, or a compressed run followed by more: left to
  // extractCpioMember.
  const early = (await run("cpio", ["-H", "newc", "-o", "--quiet"], { cwd: src, stdin: "init\n" })).stdout;
  await writeFile(join(dir, "locate-mixed"), Buffer.concat([early, z]));
  assert.equal(await locateCpioMember(join(dir, "locate-mixed"), "rootfs.sqsh", scratch), undefined);
  await writeFile(join(dir, "locate-mixed2"), Buffer.concat([z, Buffer.alloc(512), cpio]));
  assert.equal(await locateCpioMember(join(dir, "locate-mixed2"), "rootfs.sqsh", scratch), undefined);
  await writeFile(join(dir, "locate-garbage"), "not an archive at all");
  assert.equal(await locateCpioMember(join(dir, "locate-garbage"), "rootfs.sqsh", scratch), undefined);
  // A header claiming more data than the file holds is refused, not read past the end.
  const cut = join(dir, "locate-cut");
  await writeFile(cut, cpio.subarray(0, 400));
  await assert.rejects(locateCpioMember(cut, "rootfs.sqsh", scratch), /runs past the end/);
});

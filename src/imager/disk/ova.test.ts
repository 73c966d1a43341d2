import assert from "node:assert/strict";
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { run } from "../tools/run.js";
import { fixVmdkCid, OVA_VMDK_CID } from "./ova.js";

let dir = "";
let raw = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-ova-test-"));
  raw = join(dir, "disk.raw");
  const data = Buffer.alloc(4 * 1024 * 1024);
  data.write("bootforge", 1024 * 1024);
  await writeFile(raw, data);
});
after(async () => rm(dir, { recursive: true, force: true }));

/** A streamOptimized VMDK of the raw disk in `sub`/disk.vmdk (the name is part of the descriptor). */
async function vmdk(sub: string): Promise<string> {
  await mkdir(join(dir, sub));
  const path = join(dir, sub, "disk.vmdk");
  await run("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, path]);
  return path;
}

/**
 * Rewrites the descriptor's CID as qemu-img prints one below 0x10000000 (`%x`, seven digits),
 * whatever length qemu-img picked this time; the descriptor's zero padding absorbs the change.
 */
async function shortenCid(path: string): Promise<void> {
  const bytes = await readFile(path);
  const at = bytes.indexOf("\nCID=");
  const eol = bytes.indexOf(0x0a, at + 1);
  const end = bytes.indexOf(0, at);
  assert.ok(at > 0 && eol > at && end > eol, "a CID line in the descriptor");
  const text = `\nCID=abcdef1${bytes.toString("latin1", eol, end)}`;
  bytes.fill(0, at, end);
  bytes.write(text, at, "latin1");
  await writeFile(path, bytes);
}

const descriptor = async (path: string) => (await readFile(path)).toString("latin1", 0, 64 * 1024);

test("fixVmdkCid: the fixed CID whatever qemu-img picked, so two conversions are identical", async () => {
  const a = await vmdk("a");
  const b = await vmdk("b");
  await shortenCid(b);
  assert.match(await descriptor(b), /\nCID=abcdef1\nparentCID=/);
  await fixVmdkCid(a);
  await fixVmdkCid(b);
  assert.ok((await readFile(a)).equals(await readFile(b)), "same bytes after the fix");
  assert.match(await descriptor(a), new RegExp(`\\nCID=${OVA_VMDK_CID}\\nparentCID=`));
  await run("qemu-img", ["check", b]);
  const back = join(dir, "back.raw");
  await run("qemu-img", ["convert", "-f", "vmdk", "-O", "raw", b, back]);
  assert.ok((await readFile(back)).equals(await readFile(raw)), "the disk reads back unchanged");
});

test("fixVmdkCid: refuses a file that is not a sparse VMDK", async () => {
  const f = await open(join(dir, "not.vmdk"), "w");
  await f.write(Buffer.alloc(1024));
  await f.close();
  await assert.rejects(fixVmdkCid(join(dir, "not.vmdk")), /not a sparse VMDK/);
});

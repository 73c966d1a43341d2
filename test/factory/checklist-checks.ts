/**
 * Artifact checks of the conformance checklist (integration-expectations.json "conventions"),
 * written against the bytes only and with independent tools where the checklist names them:
 * magic-byte MIME detection as h2non/filetype does it, `blkid` + `sfdisk` for disk images,
 * `unsquashfs` for the modules.dep layer, and plain tar/PE parsing for installers and UKIs.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import tar from "tar-stream";
import { parse } from "yaml";
import type { CpioMember } from "../../src/formats/cpio.js";
import { readCpioFile } from "../../src/imager/initramfs/cpio-file.js";
import { parsePeHeaders } from "../../src/formats/pe/index.js";

const exec = promisify(execFile);

/** The MIME type h2non/filetype reports for the first 64 KiB ("" when nothing matches). */
export function magicMime(head: Buffer): string {
  const at = (off: number, bytes: number[]) => bytes.every((b, i) => head[off + i] === b);
  if (head.length > 262 && head.toString("latin1", 257, 262) === "ustar") return "application/x-tar";
  if (at(0, [0x1f, 0x8b, 0x08])) return "application/gzip";
  if (at(0, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) return "application/x-xz";
  if (at(0, [0x4d, 0x5a])) return "application/vnd.microsoft.portable-executable";
  if (head.length > 0x8005 && head.toString("latin1", 0x8001, 0x8006) === "CD001")
    return "application/x-iso9660-image";
  if (at(0, [0x28, 0xb5, 0x2f, 0xfd])) return "application/zstd";
  return "";
}

/** Decompresses a downloaded disk image (xz or zstd, by magic) into a sparse raw file. */
export async function decompressDisk(body: Buffer, dir: string, magic: string): Promise<string> {
  const packed = join(dir, magic === "application/zstd" ? "disk.raw.zst" : "disk.raw.xz");
  const raw = join(dir, "disk.raw");
  await writeFile(packed, body);
  if (magic === "application/zstd") await exec("zstd", ["-q", "-d", "--sparse", packed, "-o", raw]);
  else if (magic === "application/x-xz") await exec("xz", ["-d", "-k", "-q", "-T0", packed]);
  else assert.fail(`disk image is neither xz nor zstd (${magic || "no magic"})`);
  await rm(packed, { force: true });
  return raw;
}

/** Partition table type (blkid) and partitions (sfdisk) of a raw disk image. */
export async function probeDisk(
  raw: string,
): Promise<{ pttype: string; partitions: { label: string; size: number }[] }> {
  const { stdout: blk } = await exec("blkid", ["-p", "-o", "export", raw]);
  const pttype = /^PTTYPE=(.*)$/m.exec(blk)?.[1] ?? "";
  const { stdout } = await exec("sfdisk", ["--json", raw]);
  const t = (
    JSON.parse(stdout) as {
      partitiontable: { sectorsize?: number; partitions: { size: number; name?: string }[] };
    }
  ).partitiontable;
  const sector = t.sectorsize ?? 512;
  return { pttype, partitions: t.partitions.map((p) => ({ label: p.name ?? "", size: p.size * sector })) };
}

/** The first `.cmdline` section of a PE image (read up to VirtualSize, trailing NULs dropped). */
export function peCmdline(pe: Buffer): string {
  const headers = parsePeHeaders(pe);
  const s = headers.sections.find((x) => x.name === ".cmdline");
  assert.ok(s, "PE image has no .cmdline section");
  const size = Math.min(s.virtualSize, s.sizeOfRawData);
  return pe
    .subarray(s.pointerToRawData, s.pointerToRawData + size)
    .toString("utf8")
    .replace(/\0+$/, "");
}

/** Entries of a tar archive (names normalised, directories included) with file contents. */
export async function tarFiles(data: Buffer): Promise<Map<string, { type: string; data: Buffer }>> {
  const out = new Map<string, { type: string; data: Buffer }>();
  const ex = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on("entry", (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => chunks.push(c as Buffer));
      stream.on("end", () => {
        out.set(h.name.replace(/^\.?\/+/, "").replace(/\/+$/, ""), {
          type: h.type ?? "file",
          data: Buffer.concat(chunks),
        });
        next();
      });
      stream.resume();
    });
    ex.on("finish", resolve);
    ex.on("error", reject);
  });
  ex.end(data);
  await done;
  return out;
}

/** A layer blob as a tar (gzip-compressed or not). */
export function layerTar(blob: Buffer): Buffer {
  return blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
}

/** A docker-archive tarball's layers in manifest order, each as its entry map. */
export async function dockerArchiveLayers(
  archive: Buffer,
): Promise<Map<string, { type: string; data: Buffer }>[]> {
  const outer = await tarFiles(archive);
  const manifest = outer.get("manifest.json");
  assert.ok(manifest, "docker-archive has no manifest.json");
  const [image] = JSON.parse(manifest.data.toString()) as { Layers: string[] }[];
  assert.ok(image, "docker-archive manifest.json lists no image");
  const layers = [];
  for (const l of image.Layers) {
    const blob = outer.get(l.replace(/^\.?\/+/, ""));
    assert.ok(blob, `docker-archive misses layer ${l}`);
    layers.push(await tarFiles(layerTar(blob.data)));
  }
  return layers;
}

/** What the initramfs checklist item expects (vector `initramfs` object). */
export interface InitramfsExpectation {
  earlyPathsContain?: string[];
  extensionNames: string[];
  schematicLayer: { name: string; version: string };
  schematicExtraInfo: string | null;
  modulesDep?: { path: string; contains: string[] };
}

/**
 * Fixture difference: the fixture's init is a busybox script, so its base archive also carries
 * `bin/busybox` (Talos's carries only `init`, `rootfs.sqsh` and `lib*`).
 */
const FIXTURE_BASE_EXTRA = new Set(["bin", "bin/busybox"]);

interface ExtensionsYaml {
  layers: { image: string; metadata: { name: string; version: string; extraInfo?: string } }[];
}

/** Checks an initramfs file's structure and extension layers against the checklist. */
export async function checkInitramfs(
  path: string,
  want: InitramfsExpectation,
  scratch: string,
): Promise<void> {
  const members: CpioMember[] = [];
  const captured = new Map<string, Buffer[]>();
  await readCpioFile(path, (m) => {
    members.push(m);
    if (m.name === "extensions.yaml" || m.name.endsWith(".sqsh")) {
      const chunks: Buffer[] = [];
      captured.set(`${m.archive}/${m.name}`, chunks);
      return new Writable({
        write(chunk: Buffer, _enc, cb) {
          chunks.push(chunk);
          cb();
        },
      });
    }
    return "skip";
  });
  const archives = [...new Set(members.map((m) => m.archive))].sort((a, b) => a - b);
  let i = 0;
  const names = (a: number) => members.filter((m) => m.archive === a && m.name !== ".").map((m) => m.name);
  const compressionOf = (a: number) => members.find((m) => m.archive === a)?.compression;
  // Optional uncompressed early archive (CPU microcode).
  if (compressionOf(archives[0]!) === "none") {
    for (const p of want.earlyPathsContain ?? [])
      assert.ok(names(archives[0]!).includes(p), `early cpio lacks ${p}`);
    i++;
  } else {
    assert.equal((want.earlyPathsContain ?? []).length, 0, "no uncompressed early cpio, but one is expected");
  }
  const base = archives[i];
  assert.ok(base !== undefined, "no base archive");
  assert.ok(["xz", "zstd"].includes(compressionOf(base) ?? ""), `base archive is ${compressionOf(base)}`);
  const baseNames = names(base);
  for (const n of ["init", "rootfs.sqsh"]) assert.ok(baseNames.includes(n), `base archive lacks ${n}`);
  const extra = baseNames.filter(
    (n) => n !== "init" && n !== "rootfs.sqsh" && !n.startsWith("lib") && !FIXTURE_BASE_EXTRA.has(n),
  );
  assert.deepEqual(extra, [], "base archive holds only init, rootfs.sqsh and lib*");
  const rest = archives.slice(i + 1);
  // Upstream appends one compressed archive with extensions.yaml and the *.sqsh layers; Bootforge
  // stores the (already compressed) layers in an archive of their own before it, in a stored frame
  // of the same format.
  assert.equal(rest.length, 2, "a layers archive, then the extensions archive");
  const [layerArchive, extArchive] = [rest[0]!, rest[1]!];
  for (const a of [layerArchive, extArchive])
    assert.equal(compressionOf(a), compressionOf(base), "appended archives in the base's format");
  const layerNames = names(layerArchive);
  assert.ok(
    layerNames.length > 0 && layerNames.every((n) => n.endsWith(".sqsh")),
    "only *.sqsh layers in the stored archive",
  );
  assert.ok(!names(extArchive).some((n) => n.endsWith(".sqsh")), "no squashfs layer compressed again");
  const yamlData = captured.get(`${extArchive}/extensions.yaml`);
  assert.ok(yamlData, "no extensions.yaml");
  const doc = parse(Buffer.concat(yamlData).toString()) as ExtensionsYaml;
  const extensionNames = doc.layers.map((l) => l.metadata.name);
  assert.deepEqual([...extensionNames].sort(), [...want.extensionNames].sort(), "extension layer names");
  const schematic = doc.layers.find((l) => l.metadata.name === want.schematicLayer.name);
  assert.equal(schematic?.metadata.version, want.schematicLayer.version, "schematic layer version");
  const infos = doc.layers.map((l) => l.metadata.extraInfo ?? "").filter((x) => x !== "");
  if (want.schematicExtraInfo === null) assert.deepEqual(infos, [], "no layer has extraInfo");
  else assert.ok(infos.includes(want.schematicExtraInfo), "a layer's extraInfo is the canonical schematic");
  for (const l of doc.layers)
    assert.ok(layerNames.includes(l.image), `extensions.yaml names ${l.image}, which is not in the archive`);

  if (want.modulesDep !== undefined) {
    const layer = doc.layers.find((l) => l.metadata.name === "modules.dep");
    assert.ok(layer, "no modules.dep layer");
    const sqsh = join(scratch, "modules.sqsh");
    await writeFile(sqsh, Buffer.concat(captured.get(`${layerArchive}/${layer.image}`) ?? []));
    const out = join(scratch, "modules");
    await exec("unsquashfs", ["-q", "-n", "-d", out, sqsh]);
    const found = await globModulesDep(out, want.modulesDep.path);
    assert.equal(found.length, 1, `exactly one ${want.modulesDep.path} (found ${found.join(", ")})`);
    const text = await readFile(found[0]!, "utf8");
    for (const s of want.modulesDep.contains) assert.ok(text.includes(s), `modules.dep lacks ${s}`);
  }
}

/** Files matching `<prefix>/modules/*\/modules.dep` (the vector's glob, first word). */
async function globModulesDep(root: string, pattern: string): Promise<string[]> {
  const glob = pattern.split(" ")[0]!;
  const [prefix, suffix] = glob.split("/*/");
  const dir = join(root, prefix ?? "");
  const subs = await readdir(dir).catch(() => [] as string[]);
  const out: string[] = [];
  for (const s of subs) {
    const p = join(dir, s, suffix ?? "");
    if (
      await readFile(p).then(
        () => true,
        () => false,
      )
    )
      out.push(p);
  }
  return out;
}

/** Writes `body` into a fresh directory under `root` and returns it (removed by the caller). */
export async function scratchDir(root: string, label: string): Promise<string> {
  return mkdtemp(join(root, `${label.replace(/[^a-zA-Z0-9.-]+/g, "_").slice(0, 60)}-`));
}

/**
 * Files an extension contributes to the initramfs itself rather than to its squashfs layer
 * (upstream `Extension.Compress` steps 1–2): CPU microcode blobs appended to the early-cpio
 * microcode files, and the whole firmware directory. Upstream moves them out of the extracted
 * rootfs; here the rootfs is left untouched and the layer excludes the firmware directory instead.
 */
import { chmod, mkdir, readdir, stat } from "node:fs/promises";
import { createReadStream, createWriteStream } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { ioError } from "../../errors/index.js";
import type { Quirks } from "../../profile/quirks.js";
import { firmwarePath } from "./layout.js";

const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

interface UcodeRule {
  dir: string;
  match: (name: string) => boolean;
  dest: string;
}

function ucodeRules(quirks: Quirks): UcodeRule[] {
  const fw = firmwarePath(quirks);
  return [
    { dir: `${fw}/intel-ucode`, match: () => true, dest: "kernel/x86/microcode/GenuineIntel.bin" },
    {
      dir: `${fw}/amd-ucode`,
      match: (n) => n.startsWith("microcode_amd") && n.endsWith(".bin"),
      dest: "kernel/x86/microcode/AuthenticAMD.bin",
    },
  ];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function mkdirs(root: string, rel: string): Promise<void> {
  // Created one level at a time with explicit modes so the host umask never shows in the cpio.
  let cur = root;
  for (const part of rel.split("/")) {
    cur = join(cur, part);
    if (!(await exists(cur))) {
      await mkdir(cur);
      await chmod(cur, 0o755);
    }
  }
}

async function appendFile(src: string, dest: string): Promise<void> {
  await pipeline(createReadStream(src), createWriteStream(dest, { flags: "a", mode: 0o644 }));
}

async function copyTree(src: string, dest: string, skip: ReadonlySet<string>): Promise<void> {
  // stat, not lstat: upstream follows symlinks when it moves firmware.
  const st = await stat(src);
  if (st.isDirectory()) {
    if (!(await exists(dest))) await mkdir(dest);
    await chmod(dest, st.mode & 0o777);
    for (const name of (await readdir(src)).sort(byteOrder)) {
      await copyTree(join(src, name), join(dest, name), skip);
    }
  } else if (!skip.has(src)) {
    await pipeline(createReadStream(src), createWriteStream(dest));
    await chmod(dest, st.mode & 0o777);
  }
}

/**
 * Stages one extension's microcode and firmware into `staging` (the initramfs tree); returns the
 * rootfs-relative paths its squashfs layer must leave out.
 */
export async function stageEarlyFiles(rootfs: string, staging: string, quirks: Quirks): Promise<string[]> {
  try {
    const consumed = new Set<string>();
    for (const rule of ucodeRules(quirks)) {
      const dir = join(rootfs, rule.dir);
      if (!(await exists(dir))) continue;
      const blobs: string[] = [];
      for (const name of (await readdir(dir)).sort(byteOrder)) {
        if (!rule.match(name)) continue;
        const path = join(dir, name);
        if ((await stat(path)).isDirectory()) continue;
        blobs.push(path);
      }
      if (blobs.length === 0) continue;
      const destRel = rule.dest;
      await mkdirs(staging, destRel.slice(0, destRel.lastIndexOf("/")));
      for (const blob of blobs) {
        await appendFile(blob, join(staging, destRel));
        consumed.add(blob);
      }
      await chmod(join(staging, destRel), 0o644);
    }

    const fw = firmwarePath(quirks);
    if (!(await exists(join(rootfs, fw)))) return [];
    await mkdirs(staging, fw.slice(0, fw.lastIndexOf("/")));
    await copyTree(join(rootfs, fw), join(staging, fw), consumed);
    return [fw];
  } catch (e) {
    throw ioError(`staging firmware and microcode of ${rootfs}: ${(e as Error).message}`, { cause: e });
  }
}

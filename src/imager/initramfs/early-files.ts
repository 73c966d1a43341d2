/**
 * Files an extension contributes to the initramfs itself rather than to its squashfs layer
 * (upstream `Extension.Compress` steps 1–2): CPU microcode blobs appended to the early-cpio
 * microcode files, and the whole firmware directory. Upstream moves them out of the extracted
 * rootfs; here the rootfs is left untouched and the layer excludes the firmware directory instead.
 *
 * The extension is untrusted, so symlinks are never followed out of it: firmware symlinks are
 * copied as symlinks (as upstream's copy does), and a microcode entry is read only when it is, or
 * resolves to, a regular file inside the rootfs. A microcode symlink leading outside is refused
 * rather than skipped, so a broken or hostile extension fails loudly instead of losing microcode.
 */
import { chmod, lstat, mkdir, readdir, readlink, realpath, rm, symlink } from "node:fs/promises";
import { createReadStream, createWriteStream } from "node:fs";
import { join, relative } from "node:path";
import { pipeline } from "node:stream/promises";
import { BootforgeError, invalidInput, ioError } from "../../errors/index.js";
import type { Quirks } from "../../profile/quirks.js";
import { resolveInside } from "./contained.js";
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

async function mkdirs(root: string, rel: string): Promise<void> {
  // Created one level at a time with explicit modes so the host umask never shows in the cpio.
  let cur = root;
  for (const part of rel.split("/")) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) {
      await mkdir(cur);
      await chmod(cur, 0o755);
    } else if (!st.isDirectory()) {
      throw invalidInput(`initramfs staging: ${relative(root, cur)} is not a directory`);
    }
  }
}

async function appendFile(src: string, dest: string): Promise<void> {
  await pipeline(createReadStream(src), createWriteStream(dest, { flags: "a", mode: 0o644 }));
}

interface CopyContext {
  /** Real path of the extension rootfs, for messages. */
  root: string;
  owner: string;
  skip: ReadonlySet<string>;
}

/** Copies without following symlinks on either side: sources are lstat'ed, symlinks recreated verbatim. */
async function copyTree(src: string, dest: string, ctx: CopyContext): Promise<void> {
  const st = await lstat(src);
  const rel = relative(ctx.root, src);
  const existing = await lstat(dest).catch(() => undefined);
  // Several extensions may share firmware paths (later ones win for files), but a path that is a
  // directory on one side and not on the other is refused: replacing it would drop an earlier
  // extension's files, and descending into a symlink would write wherever it points.
  const conflict = (): BootforgeError =>
    invalidInput(`${ctx.owner}: ${rel} conflicts with a different kind of entry from an earlier extension`);
  if (st.isDirectory()) {
    if (existing === undefined) await mkdir(dest);
    else if (!existing.isDirectory()) throw conflict();
    await chmod(dest, st.mode & 0o777);
    for (const name of (await readdir(src)).sort(byteOrder)) {
      await copyTree(join(src, name), join(dest, name), ctx);
    }
    return;
  }
  if (ctx.skip.has(src)) return;
  if (existing?.isDirectory()) throw conflict();
  if (existing !== undefined) await rm(dest);
  if (st.isSymbolicLink()) {
    await symlink(await readlink(src), dest);
  } else if (st.isFile()) {
    // `wx`: the destination was just cleared, so nothing planted there can redirect the write.
    await pipeline(createReadStream(src), createWriteStream(dest, { flags: "wx" }));
    await chmod(dest, st.mode & 0o777);
  } else {
    throw invalidInput(`${ctx.owner}: ${rel} is not a regular file, directory or symlink`);
  }
}

/**
 * Stages one extension's microcode and firmware into `staging` (the initramfs tree); returns the
 * rootfs-relative paths its squashfs layer must leave out. `name` names the extension in errors.
 */
export async function stageEarlyFiles(
  rootfs: string,
  staging: string,
  quirks: Quirks,
  name = rootfs,
): Promise<string[]> {
  const owner = `extension ${JSON.stringify(name)}`;
  try {
    const consumed = new Set<string>();
    for (const rule of ucodeRules(quirks)) {
      const dir = await resolveInside(rootfs, rule.dir, owner);
      if (dir === undefined || !(await lstat(dir)).isDirectory()) continue;
      const blobs: string[] = [];
      for (const entry of (await readdir(dir)).sort(byteOrder)) {
        if (!rule.match(entry)) continue;
        const rel = `${rule.dir}/${entry}`;
        const real = await resolveInside(rootfs, rel, owner);
        if (real === undefined) throw invalidInput(`${owner}: microcode ${rel} is a dangling symlink`);
        const st = await lstat(real);
        if (st.isDirectory()) continue;
        if (!st.isFile()) throw invalidInput(`${owner}: microcode ${rel} is not a regular file`);
        blobs.push(real);
        consumed.add(join(dir, entry));
      }
      if (blobs.length === 0) continue;
      const destRel = rule.dest;
      await mkdirs(staging, destRel.slice(0, destRel.lastIndexOf("/")));
      for (const blob of blobs) await appendFile(blob, join(staging, destRel));
      await chmod(join(staging, destRel), 0o644);
    }

    const fw = firmwarePath(quirks);
    const fwDir = await resolveInside(rootfs, fw, owner);
    if (fwDir === undefined || !(await lstat(fwDir)).isDirectory()) return [];
    await mkdirs(staging, fw.slice(0, fw.lastIndexOf("/")));
    await copyTree(fwDir, join(staging, fw), { root: await realpath(rootfs), owner, skip: consumed });
    return [fw];
  } catch (e) {
    if (e instanceof BootforgeError) throw e;
    throw ioError(`staging firmware and microcode of ${owner}: ${(e as Error).message}`, { cause: e });
  }
}

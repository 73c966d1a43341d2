/** Small source trees and helpers shared by the filesystem and disk image tests. */
import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A small boot-like tree: nested directories, a 0600 file, an empty file, a 70 KiB file. */
export async function makeSampleTree(root: string, withSymlink = false): Promise<void> {
  await mkdir(join(root, "A"), { recursive: true });
  await mkdir(join(root, "grub", "fonts"), { recursive: true });
  await writeFile(join(root, "A", "vmlinuz"), Buffer.alloc(70 * 1024, "k"));
  await writeFile(join(root, "A", "initramfs.xz"), "initramfs\n");
  await writeFile(join(root, "grub", "grub.cfg"), 'set default="A - Talos v1.11.0"\n', { mode: 0o600 });
  await writeFile(join(root, "grub", "fonts", "empty"), "");
  await writeFile(join(root, "zz-last"), "z\n");
  if (withSymlink) await symlink("A/vmlinuz", join(root, "current"));
}

/** True when two files have identical bytes. */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  return (await readFile(a)).equals(await readFile(b));
}

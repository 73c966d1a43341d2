/**
 * A directory tree to put into a filesystem image, listed in a stable order (byte order of names,
 * files before directories at each level, as upstream's protofile does), so every mkfs sees the
 * same sequence whatever order the host filesystem returns entries in.
 */
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { invalidInput } from "../../errors/index.js";

/** One entry below the root; `path` is relative with `/` separators. */
export interface TreeEntry {
  path: string;
  name: string;
  /** Absolute host path. */
  source: string;
  kind: "file" | "dir" | "symlink";
  /** Permission bits plus setuid/setgid/sticky (`mode & 0o7777`). */
  mode: number;
  size: number;
  /** Symlink target. */
  target?: string;
  /** Depth below the root (1 for top-level entries). */
  depth: number;
  /** For directories: their entries, in the same order. */
  children?: TreeEntry[];
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The tree under `root` (sockets, fifos and devices are rejected: images hold files only). */
export async function readTree(root: string, depth = 1, prefix = ""): Promise<TreeEntry[]> {
  const names = (await readdir(root)).map((name) => ({ name })).sort(byName);
  const files: TreeEntry[] = [];
  const dirs: TreeEntry[] = [];
  for (const { name } of names) {
    const source = join(root, name);
    const st = await lstat(source);
    const path = prefix ? `${prefix}/${name}` : name;
    const base = { path, name, source, mode: st.mode & 0o7777, size: st.size, depth };
    if (st.isDirectory()) {
      dirs.push({ ...base, kind: "dir", size: 0, children: await readTree(source, depth + 1, path) });
    } else if (st.isFile()) {
      files.push({ ...base, kind: "file" });
    } else if (st.isSymbolicLink()) {
      files.push({ ...base, kind: "symlink", target: await readlink(source) });
    } else {
      throw invalidInput(`unsupported file type in image source tree: ${source}`);
    }
  }
  return [...files, ...dirs];
}

/** Every entry of a tree, depth first, parents before children. */
export function* walkTree(entries: readonly TreeEntry[]): Generator<TreeEntry> {
  for (const e of entries) {
    yield e;
    if (e.children) yield* walkTree(e.children);
  }
}

/** Sum of the sizes of all non-directory entries (what upstream sizes IMAGECACHE by). */
export function treeFileBytes(entries: readonly TreeEntry[]): number {
  let total = 0;
  for (const e of walkTree(entries)) if (e.kind !== "dir") total += e.size;
  return total;
}

/**
 * Layer tars streamed from host files, laid out as upstream's go-containerregistry `filemap`
 * helpers write them: the artifacts layer has file entries only with mode 0 (upstream leaves
 * `Mode` unset), the overlay layer keeps permission bits and directory entries; every entry has
 * mtime 0 and owner 0:0, sorted by path.
 */
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { invalidInput } from "../../errors/index.js";

/** One layer entry: a directory, or a file read from `source`. */
export interface FileEntry {
  path: string;
  kind: "file" | "dir";
  source?: string;
  /** Permission bits (the artifacts layer uses 0, as upstream). */
  mode: number;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

/** A tar stream of `entries`, sorted by path, contents streamed from disk. */
export function layerTar(entries: readonly FileEntry[]): Readable {
  const pack = tar.pack();
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  void (async () => {
    try {
      for (const e of sorted) {
        // tar-stream replaces a zero mode by its default; the file-type bits keep it at zero
        const header = {
          name: e.path,
          type: e.kind === "dir" ? ("directory" as const) : ("file" as const),
          mode: (e.kind === "dir" ? S_IFDIR : S_IFREG) | e.mode,
          mtime: new Date(0),
          uid: 0,
          gid: 0,
          uname: "",
          gname: "",
          size: 0,
        };
        if (e.kind === "dir") {
          await new Promise<void>((resolve, reject) =>
            pack.entry(header, (err) => (err ? reject(err) : resolve())),
          );
          continue;
        }
        if (!e.source) throw invalidInput(`layer entry ${e.path} has no source file`);
        const st = await lstat(e.source);
        const sink = pack.entry({ ...header, size: st.size });
        await pipeline(createReadStream(e.source), sink as unknown as Writable);
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** Entries for the tree under `root`, named `<prefix>/<relative path>` (directories included). */
export async function walkEntries(root: string, prefix: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const st = await lstat(root);
  out.push({ path: prefix, kind: "dir", mode: st.mode & 0o7777 });
  for (const name of await readdir(root)) {
    const source = join(root, name);
    const s = await lstat(source);
    const path = `${prefix}/${name}`;
    if (s.isDirectory()) out.push(...(await walkEntries(source, path)));
    else if (s.isFile()) out.push({ path, kind: "file", source, mode: s.mode & 0o7777 });
    else throw invalidInput(`unsupported file type in overlay image: ${path}`);
  }
  return out;
}

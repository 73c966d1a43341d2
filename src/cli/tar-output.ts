/** `--tar-to-stdout`: the output directory as a gzip'd tar (upstream `archiver.TarGz`, root entry skipped). */
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";

/** Streams `dir` (sorted, relative names, staging directories skipped) as tar.gz into `out`. */
export async function writeTarGz(dir: string, out: Writable): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createGzip(), out);
  const add = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(dir, rel))).sort()) {
      if (rel === "" && name.startsWith(".bootforge-")) continue;
      const r = rel === "" ? name : `${rel}/${name}`;
      const p = join(dir, r);
      const st = await lstat(p);
      const base = { name: r, mode: st.mode & 0o7777, mtime: st.mtime };
      if (st.isDirectory()) {
        pack.entry({ ...base, type: "directory" });
        await add(r);
      } else if (st.isSymbolicLink()) {
        pack.entry({ ...base, type: "symlink", linkname: await readlink(p) });
      } else if (st.isFile()) {
        await new Promise<void>((resolve, reject) => {
          const entry = pack.entry({ ...base, type: "file", size: st.size }, (e) =>
            e ? reject(e) : resolve(),
          );
          createReadStream(p).on("error", reject).pipe(entry);
        });
      }
    }
  };
  await add("");
  pack.finalize();
  await done;
}

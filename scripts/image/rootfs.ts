/**
 * The image's Debian root filesystem as layer entries: every package of the closure unpacked with
 * `dpkg-deb -x` (no maintainer scripts run), merged path by path, plus what the maintainer scripts
 * and the base system would have made and the image needs: the merged-/usr symlinks, the users and
 * groups (root and the unprivileged `bootforge`), name service switch, the CA bundle
 * `update-ca-certificates` writes, and the directories the factory and imager use.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { lstat, mkdir, readdir, readFile, readlink, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { BootforgeError } from "../../src/errors/index.js";
import type { LayerEntry } from "../../src/oci/layer-builder.js";
import { unpacked, type DebInput } from "../../fixtures/lib/debian-inputs.js";

/** The unprivileged user the image runs as. */
export const IMAGE_USER = { name: "bootforge", uid: 1000, gid: 1000, home: "/home/bootforge" } as const;

/** Directories owned by the image user: upstream imager's output and SecureBoot key mounts, and state. */
export const USER_DIRS = ["/out", "/secureboot", "/var/lib/bootforge", IMAGE_USER.home] as const;

/** Top-level directories Debian 13 merged into /usr (a package still shipping them lands in /usr). */
const MERGED = ["bin", "sbin", "lib", "lib64"];

/** Documentation a container never reads (copyright files stay: they are the packages' licenses). */
function dropped(path: string): boolean {
  if (/^usr\/share\/(man|info|lintian|locale)(\/|$)/.test(path)) return true;
  const doc = /^usr\/share\/doc\/[^/]+\/(.+)$/.exec(path);
  return doc?.[1] !== undefined && doc[1] !== "copyright";
}

function mergedUsr(path: string): string {
  const top = path.split("/")[0] ?? "";
  return MERGED.includes(top) ? `usr/${path}` : path;
}

interface Found {
  path: string;
  type: "file" | "directory" | "symlink";
  mode: number;
  source?: string;
  linkname?: string;
  ino: number;
  nlink: number;
}

async function walk(root: string, rel = ""): Promise<Found[]> {
  const out: Found[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const r = rel === "" ? name : `${rel}/${name}`;
    if (rel === "" && name === ".done") continue; // the unpack cache's marker
    const full = join(root, r);
    const st = await lstat(full);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      out.push({ path: r, type: "directory", mode, ino: st.ino, nlink: 1 });
      out.push(...(await walk(root, r)));
    } else if (st.isSymbolicLink()) {
      out.push({
        path: r,
        type: "symlink",
        mode: 0o777,
        linkname: await readlink(full),
        ino: st.ino,
        nlink: 1,
      });
    } else if (st.isFile()) {
      out.push({ path: r, type: "file", mode, source: full, ino: st.ino, nlink: st.nlink });
    } else {
      throw new BootforgeError("unsupported", `${full}: a Debian package shipped a special file`);
    }
  }
  return out;
}

/**
 * Each path's permission bits as the package's data tar records them (cached as JSON): what
 * `dpkg-deb -x` leaves on disk depends on who runs it (a non-root extraction applies the umask),
 * and the image must not.
 */
async function packageModes(deb: DebInput, cache: string, debDir: string): Promise<Map<string, number>> {
  const file = join(cache, "modes", `${deb.file}.json`);
  if (existsSync(file))
    return new Map(Object.entries(JSON.parse(await readFile(file, "utf8")) as Record<string, number>));
  const modes: Record<string, number> = {};
  const child = spawn("dpkg-deb", ["--fsys-tarfile", join(debDir, deb.file)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<number | null>((ok) => child.once("close", ok));
  const ex = tar.extract();
  ex.on("entry", (h, stream, next) => {
    const name = h.name.replace(/^\.\//, "").replace(/\/$/, "");
    if (name !== "" && name !== ".") modes[name] = (h.mode ?? 0) & 0o7777;
    stream.on("end", next);
    stream.resume();
  });
  await pipeline(child.stdout, ex as unknown as Writable);
  if ((await exited) !== 0)
    throw new BootforgeError("dependency", `dpkg-deb --fsys-tarfile ${deb.file} failed`);
  await mkdir(join(cache, "modes"), { recursive: true });
  await writeFile(`${file}.${process.pid}.tmp`, JSON.stringify(modes));
  await rename(`${file}.${process.pid}.tmp`, file);
  return new Map(Object.entries(modes));
}

/** The entries of every package, unpacked once into `cache` (the first package to ship a path wins). */
export async function packageEntries(
  debs: readonly DebInput[],
  cache: string,
  debDir: string,
): Promise<Map<string, LayerEntry>> {
  const entries = new Map<string, LayerEntry>();
  for (const deb of debs) {
    const dir = await unpacked(cache, deb, debDir);
    const modes = await packageModes(deb, cache, debDir);
    const found = (await walk(dir))
      .map((f) => {
        const mode = f.type === "symlink" ? 0o777 : modes.get(f.path);
        if (mode === undefined)
          throw new BootforgeError("dependency", `${deb.file}: ${f.path} is unpacked but not in the package`);
        return { ...f, mode, path: mergedUsr(f.path) };
      })
      .filter((f) => !dropped(f.path));
    // Hard links (mkfs.ext2/3/4 → mke2fs): the first path in tar order carries the bytes.
    const firstOfInode = new Map<number, string>();
    for (const f of [...found].sort((a, b) => (a.path < b.path ? -1 : 1))) {
      if (f.type === "file" && f.nlink > 1 && !firstOfInode.has(f.ino)) firstOfInode.set(f.ino, f.path);
    }
    for (const f of found) {
      if (entries.has(f.path)) continue;
      const first = f.type === "file" && f.nlink > 1 ? firstOfInode.get(f.ino) : undefined;
      if (first !== undefined && first !== f.path) {
        entries.set(f.path, { path: f.path, type: "link", linkname: first, mode: f.mode });
      } else if (f.type === "file") {
        entries.set(f.path, { path: f.path, type: "file", mode: f.mode, source: f.source! });
      } else if (f.type === "symlink") {
        entries.set(f.path, { path: f.path, type: "symlink", linkname: f.linkname!, mode: 0o777 });
      } else {
        entries.set(f.path, { path: f.path, type: "directory", mode: f.mode });
      }
    }
  }
  return entries;
}

/** The CA bundle `update-ca-certificates` would write: every shipped certificate, in name order. */
async function caBundle(entries: Map<string, LayerEntry>): Promise<string> {
  const prefix = "usr/share/ca-certificates/";
  const certs = [...entries.values()]
    .filter((e) => e.path.startsWith(prefix) && e.path.endsWith(".crt") && e.source !== undefined)
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  if (certs.length === 0) throw new BootforgeError("dependency", "ca-certificates shipped no certificate");
  const parts: string[] = [];
  for (const c of certs) {
    const text = await readFile(c.source!, "utf8");
    parts.push(text.endsWith("\n") ? text : `${text}\n`);
  }
  return parts.join("");
}

/**
 * Where `dpkg`'s maintainer scripts and the base system would have left things; these replace a
 * package's entry of the same path (an `/etc/ssl/certs` directory, `/tmp`'s mode).
 */
export async function systemEntries(pkgs: Map<string, LayerEntry>): Promise<LayerEntry[]> {
  const u = IMAGE_USER;
  const out: LayerEntry[] = [
    ...MERGED.map((d): LayerEntry => ({ path: d, type: "symlink", linkname: `usr/${d}` })),
    { path: "etc", type: "directory" },
    {
      path: "etc/passwd",
      content: `root:x:0:0:root:/root:/usr/sbin/nologin\n${u.name}:x:${u.uid}:${u.gid}:Bootforge:${u.home}:/usr/sbin/nologin\n`,
    },
    { path: "etc/group", content: `root:x:0:\n${u.name}:x:${u.gid}:\n` },
    { path: "etc/nsswitch.conf", content: "passwd: files\ngroup: files\nhosts: files dns\n" },
    { path: "etc/ssl", type: "directory" },
    { path: "etc/ssl/certs", type: "directory" },
    { path: "etc/ssl/certs/ca-certificates.crt", content: await caBundle(pkgs) },
    { path: "root", type: "directory", mode: 0o700 },
    { path: "tmp", type: "directory", mode: 0o1777 },
    { path: "var", type: "directory" },
    { path: "var/lib", type: "directory" },
    { path: "var/tmp", type: "directory", mode: 0o1777 },
    { path: "home", type: "directory" },
    { path: "proc", type: "directory" },
    { path: "dev", type: "directory" },
    { path: "sys", type: "directory" },
    ...USER_DIRS.map((d): LayerEntry => ({
      path: d.slice(1),
      type: "directory",
      mode: 0o755,
      uid: u.uid,
      gid: u.gid,
    })),
  ];
  // Debian's nodejs ships /usr/bin/node; older packaging named it nodejs only.
  if (!pkgs.has("usr/bin/node")) {
    if (!pkgs.has("usr/bin/nodejs"))
      throw new BootforgeError("dependency", "the nodejs package has no usr/bin/node");
    out.push({ path: "usr/bin/node", type: "symlink", linkname: "nodejs" });
  }
  // The shell the tool launcher starts from: dash's maintainer script made the link before
  // Debian 13 shipped it.
  if (!pkgs.has("usr/bin/sh")) {
    if (!pkgs.has("usr/bin/dash"))
      throw new BootforgeError("dependency", "the dash package has no usr/bin/dash");
    out.push({ path: "usr/bin/sh", type: "symlink", linkname: "dash" });
  }
  return out;
}

/** Checks the root filesystem has every program the imager runs (by name, in /usr/bin or /usr/sbin). */
export function missingPrograms(all: ReadonlyMap<string, LayerEntry>, programs: readonly string[]): string[] {
  return programs.filter((p) => !all.has(`usr/bin/${p}`) && !all.has(`usr/sbin/${p}`));
}

/**
 * What the fault tests look at from outside the factory: the processes a factory process started
 * (found through a marker in their environment, which every descendant inherits even after it is
 * orphaned), files being written in its storage, and the digests of what its stores hold.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";
import { pipeline } from "node:stream/promises";

/** A live (not zombie) process. */
export interface ProcessInfo {
  pid: number;
  /** The program name (`comm`). */
  comm: string;
  cmdline: string;
}

/**
 * Live processes whose environment holds `name=value` (the marker given to one factory process,
 * inherited by everything it starts). Zombies are skipped: they run nothing and write nothing,
 * and in a container nobody may reap orphans.
 */
export async function markedProcesses(name: string, value: string): Promise<ProcessInfo[]> {
  const want = `${name}=${value}`;
  const out: ProcessInfo[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const env = await readFile(`/proc/${entry}/environ`, "latin1").catch(() => "");
    if (!env.split("\0").includes(want)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "latin1").catch(() => "");
    const comm = /\((.*)\) (\S)/s.exec(stat);
    if (comm === null || comm[2] === "Z" || comm[2] === "X") continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, "latin1").catch(() => "")).replaceAll(
      "\0",
      " ",
    );
    out.push({ pid: Number(entry), comm: comm[1]!, cmdline: cmdline.trim() });
  }
  return out;
}

/**
 * The build's tools among the processes under a marker: not the factory's Node, its launcher
 * shells, the TypeScript loader's esbuild service or a bwrap around the factory.
 */
export async function markedTools(name: string, value: string): Promise<ProcessInfo[]> {
  const own = new Set(["node", "sh", "esbuild", "bwrap"]);
  return (await markedProcesses(name, value)).filter((p) => !own.has(p.comm));
}

/** Waits up to `ms` for every marked process to be gone; returns those still running then. */
export async function waitGone(name: string, value: string, ms: number): Promise<ProcessInfo[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await markedProcesses(name, value);
    if (left.length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Every regular file under `dir` (recursively, relative paths) with its size; [] when absent. */
export async function filesUnder(dir: string, base = dir): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p, base)));
    else if (e.isFile()) {
      const st = await stat(p).catch(() => undefined);
      if (st !== undefined) out.push({ path: relative(base, p), size: st.size });
    }
  }
  return out;
}

/** SHA-256 (hex) of a file. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  await pipeline(createReadStream(path), h);
  return h.digest("hex");
}

/** SHA-256 (hex) of every file under `dir`, by relative path. */
export async function digestsUnder(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const f of await filesUnder(dir)) out.set(f.path, await sha256File(join(dir, f.path)));
  return out;
}

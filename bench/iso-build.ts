/**
 * Bench: an ISO with three system extensions from warm inputs (release and extension images
 * already extracted in the imager cache) against its floor: the external programs the build runs
 * (mksquashfs, zstd, xorriso, mtools, …), timed where they run. Every tool is reached through a
 * PATH shim that records its wall-clock interval; the floor is the union of those intervals,
 * i.e. the time the same invocations take on the same prepared trees with Bootforge's own work
 * (orchestration, cpio, GPT/FAT/PE writing, hashing, process start) taken away. Target ≤ 1.25×.
 * Then a command-line-only variant of the cached build (`--output-kind cmdline`): target < 1 s.
 * The imager process's own peak RSS is recorded for both (target < 300 MiB).
 *
 *   node --import tsx bench/iso-build.ts [--profile]   (--profile: CPU profile of the warm build)
 */
import { accessSync, constants } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { existsSync } from "node:fs";
import { ensureFixtureRelease } from "../fixtures/index.js";
import { machine, measure, report, summarizeProfile, type Measured } from "./lib/common.js";

const REPO = join(import.meta.dirname, "..");
const VERSION = "v1.11.0";
const EXTENSIONS = [
  "ghcr.io/siderolabs/bootforge-hello:1.0.0",
  `ghcr.io/siderolabs/bootforge-dummy-module:6.1.0-56-${VERSION}`,
  `ghcr.io/siderolabs/bootforge-firmware:1.0.0-${VERSION}`,
];
// Every program the build stages may run (src/build/tools/registry.ts and friends).
const TOOLS = [
  "mksquashfs",
  "unsquashfs",
  "zstd",
  "xz",
  "xorriso",
  "mkfs.vfat",
  "fsck.vfat",
  "mcopy",
  "mmd",
  "mdir",
  "cpio",
  "tar",
  "depmod",
  "grub-mkimage",
  "qemu-img",
  "sgdisk",
  "sfdisk",
];

function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const d of dirs.filter(Boolean)) {
    try {
      accessSync(join(d, name), constants.X_OK);
      return join(d, name);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Writes one timing shim per installed tool into `dir`. */
async function writeShims(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const t of TOOLS) {
    const real = which(t);
    if (real === undefined) continue;
    await writeFile(
      join(dir, t),
      [
        "#!/bin/bash",
        "s=$(date +%s%N)",
        `"${real}" "$@"`,
        "rc=$?",
        'printf "%s %s %s %s\\n" ' + `"${t}"` + ' "$s" "$(date +%s%N)" "${*:0:200}" >> "$BENCH_TOOL_LOG"',
        "exit $rc",
        "",
      ].join("\n"),
    );
    await chmod(join(dir, t), 0o755);
  }
}

interface ToolRun {
  tool: string;
  start: number;
  end: number;
  args: string;
}

async function readLog(path: string): Promise<ToolRun[]> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [tool, s, e, ...args] = l.split(" ");
      return { tool: tool!, start: Number(s) / 1e6, end: Number(e) / 1e6, args: args.join(" ") };
    })
    .filter((r) => !/(^| )(-version|--version|-V)( |$)/.test(r.args));
}

/** Milliseconds covered by at least one interval. */
function union(runs: ToolRun[]): number {
  const s = [...runs].sort((a, b) => a.start - b.start);
  let total = 0;
  let curS = -Infinity;
  let curE = -Infinity;
  for (const r of s) {
    if (r.start > curE) {
      if (curE > curS) total += curE - curS;
      curS = r.start;
      curE = r.end;
    } else curE = Math.max(curE, r.end);
  }
  if (curE > curS) total += curE - curS;
  return total;
}

const release = (await ensureFixtureRelease()).dir;
const work = await mkdtemp(join(tmpdir(), "bootforge-bench-iso-"));
const shims = join(work, "shims");
const log = join(work, "tools.log");
await writeShims(shims);
const cache = join(work, "cache");

const profile = process.argv.includes("--profile");
const profDir = join(work, "prof");

function imager(out: string, extra: string[] = [], toolLog = log, prof = false): Promise<Measured> {
  return measure(
    process.execPath,
    [
      ...(prof ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []),
      join(REPO, "bin", "imager.js"),
      "iso",
      "--arch",
      "amd64",
      "--talos-version",
      VERSION,
      "--release-source",
      `oci-layout:${release}`,
      "--cache-dir",
      cache,
      ...EXTENSIONS.flatMap((e) => ["--system-extension-image", e]),
      "--output",
      out,
      ...extra,
    ],
    {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${shims}${delimiter}${process.env.PATH ?? ""}`,
        BENCH_TOOL_LOG: toolLog,
        SOURCE_DATE_EPOCH: "1700000000",
        NODE_NO_WARNINGS: "1",
      },
    },
  );
}

try {
  const mode = existsSync(join(REPO, "dist", "cli", "imager.js")) ? "dist (built)" : "src via tsx";
  // Cold run: fills the cache with the extracted release and extension images.
  const cold = await imager(join(work, "out-cold"));
  if (cold.code !== 0) throw new Error(`cold build failed: ${cold.stderr}`);
  await rm(log, { force: true });
  const warm = await imager(join(work, "out-warm"), [], log, profile);
  if (warm.code !== 0) throw new Error(`warm build failed: ${warm.stderr}`);
  const runs = await readLog(log);
  if (process.argv.includes("--invocations")) {
    const t0 = Math.min(...runs.map((r) => r.start));
    for (const r of runs)
      console.error(
        `# +${(r.start - t0).toFixed(0)} ms ${(r.end - r.start).toFixed(0)} ms ${r.tool} ${r.args.slice(0, 160)}`,
      );
  }
  const cmdLog = `${log}.cmdline`;
  await rm(cmdLog, { force: true });
  const cmd = await imager(join(work, "out-cmdline"), ["--output-kind", "cmdline"], cmdLog);
  if (cmd.code !== 0) throw new Error(`cmdline build failed: ${cmd.stderr}`);
  const floorMs = union(runs);
  const byTool = new Map<string, number>();
  for (const r of runs) byTool.set(r.tool, (byTool.get(r.tool) ?? 0) + (r.end - r.start));
  const tools = [...byTool]
    .sort((a, b) => b[1] - a[1])
    .map(([t, ms]) => `${t} ${(ms / 1000).toFixed(2)} s`)
    .join(", ");
  report(
    "iso-3-extensions",
    (warm.seconds * 1000) / floorMs,
    `warm build ${warm.seconds.toFixed(2)} s vs tool floor ${(floorMs / 1000).toFixed(2)} s ` +
      `(${runs.length} invocations: ${tools}); cold build ${cold.seconds.toFixed(2)} s; ` +
      `without the fixed per-run cost (the cmdline-only run, ${cmd.seconds.toFixed(2)} s) ` +
      `${(((warm.seconds - cmd.seconds) * 1000) / floorMs).toFixed(2)}×; ` +
      `imager peak RSS ${warm.peakMiB.toFixed(0)} MiB (cold ${cold.peakMiB.toFixed(0)} MiB); CLI from ${mode}; target ≤ 1.25×`,
  );

  const cmdRuns = await readLog(cmdLog);
  report(
    "iso-cmdline-variant",
    cmd.seconds / 1,
    `command-line-only output of the cached ISO build in ${cmd.seconds.toFixed(2)} s ` +
      `(${cmdRuns.length} tool invocations), peak RSS ${cmd.peakMiB.toFixed(0)} MiB; ratio = seconds / 1 s target`,
  );
  console.error(`# machine: ${machine()}`);
  if (profile) await summarizeProfile(profDir);
} finally {
  await rm(work, { recursive: true, force: true });
}

/**
 * Runs a disk tool on an image file as if the file were a drive with a given sector size.
 * sgdisk (and other tools that ask the kernel) assume 512-byte sectors on regular files, so a
 * 4K-sector GPT would look like no GPT at all; a loop device would need root. Instead an
 * LD_PRELOAD shim (blockdev-shim.c, compiled once per source version) answers the sector-size
 * ioctls for regular files.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BootforgeError } from "../../src/errors/index.js";

const SOURCE = join(import.meta.dirname, "blockdev-shim.c");

/** Compiles the shim (cached under the OS temp dir by source hash); returns the .so path. */
export function blockdevShim(): string {
  const src = readFileSync(SOURCE);
  const hash = createHash("sha256").update(src).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "bootforge-blockdev-shim");
  const so = join(dir, `shim-${hash}.so`);
  if (existsSync(so)) return so;
  mkdirSync(dir, { recursive: true });
  // Compile to a private name, then rename: concurrent test files never load a half-written .so.
  const tmp = `${so}.${process.pid}.tmp`;
  const r = spawnSync("gcc", ["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", tmp, SOURCE], {
    encoding: "utf8",
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new BootforgeError("dependency", "gcc not found: install the Debian packages gcc and libc6-dev");
  }
  if (r.status !== 0) throw new BootforgeError("internal", `compiling ${SOURCE} failed: ${r.stderr}`);
  renameSync(tmp, so);
  return so;
}

/** What a tool run printed and how it ended. */
export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` with regular files seen as drives of `sectorSize`-byte sectors. */
export function runWithSectorSize(sectorSize: 512 | 4096, cmd: string, args: readonly string[]): ToolRun {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, LD_PRELOAD: blockdevShim(), BLOCKDEV_SECTOR_SIZE: String(sectorSize) },
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Versions of external programs, for cache keys and diagnostics (asked once per process). */
import { run } from "./run.js";
import type { ToolName } from "./registry.js";

// How each program prints its version; the first matching line is the version text.
const VERSION_ARGS: Partial<Record<ToolName, readonly string[]>> = {
  "mkfs.vfat": ["--help"],
  "mkfs.xfs": ["-V"],
  "mkfs.ext4": ["-V"],
  sfdisk: ["--version"],
};

const VERSION_PATTERN = /\d+\.\d+(?:\.\d+)?/;
const cache = new Map<ToolName, Promise<string>>();

/** The program's version line (e.g. `mkfs.xfs version 6.1.0`), without the trailing newline. */
export function toolVersion(name: ToolName): Promise<string> {
  let pending = cache.get(name);
  if (!pending) {
    pending = run(name, VERSION_ARGS[name] ?? ["--version"], { timeoutMs: 30_000 }).then(
      ({ stdout, stderr }) => {
        const lines = `${stdout.toString("utf8")}\n${stderr}`.split("\n").map((l) => l.trim());
        return lines.find((l) => VERSION_PATTERN.test(l)) ?? lines.find(Boolean) ?? "";
      },
    );
    cache.set(name, pending);
  }
  return pending;
}

/** The numeric part of a version line as [major, minor, patch] (missing parts are 0). */
export function parseToolVersion(line: string): [number, number, number] {
  const m = VERSION_PATTERN.exec(line);
  const parts = (m?.[0] ?? "0.0.0").split(".").map(Number);
  return [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
}

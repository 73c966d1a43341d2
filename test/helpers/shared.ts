/** Locates `../shared` (reference material and compatibility vectors) beside the checkout. */
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Absolute path of a file under the shared folder (override with BOOTFORGE_SHARED). */
export function sharedPath(...parts: string[]): string {
  const base = process.env.BOOTFORGE_SHARED ?? join(repoRoot, "..", "shared");
  return join(base, ...parts);
}

/** Parsed JSON vector file under `shared/vectors/`. */
export function readVectors<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(sharedPath("vectors", name), "utf8")) as T;
}

/** The repository root, for tests that run the CLI. */
export const REPO_ROOT = repoRoot;

/**
 * Extension trees are untrusted: a symlink in one may point anywhere on the build host. These
 * helpers let the initramfs rebuild follow a symlink only while it stays inside the extension, so
 * no host file can be read into (or written through from) the build.
 */
import { realpath } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import { invalidInput } from "../../errors/index.js";

/** Whether `path` is `root` or below it (both already real paths). */
export function isInside(root: string, path: string): boolean {
  const r = relative(root, path);
  return r === "" || (r !== ".." && !r.startsWith("../") && !isAbsolute(r));
}

/** The real path of `p`, or undefined when it does not resolve (missing, dangling link, loop). */
export async function realPathOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await realpath(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR" || code === "ELOOP") return undefined;
    throw e;
  }
}

/**
 * Where `rel` under `root` really leads, following symlinks only while they stay inside `root`:
 * undefined when it does not resolve, an invalid-input error naming `owner` and `rel` when it
 * leaves the tree (an absolute symlink target means the build host's file system here).
 */
export async function resolveInside(root: string, rel: string, owner: string): Promise<string | undefined> {
  const real = await realPathOrUndefined(join(root, rel));
  if (real === undefined) return undefined;
  if (!isInside(await realpath(root), real))
    throw invalidInput(`${owner}: ${rel} is a symlink (or passes through one) leading outside the extension`);
  return real;
}

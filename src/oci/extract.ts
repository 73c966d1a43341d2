/**
 * Safe tar extraction into a directory: refuses path escapes (`..`, absolute names, writing
 * through symlinks, symlinks or hard links pointing outside), device nodes and FIFOs, and stops
 * decompression bombs with byte and entry limits. Errors name the offending entry.
 */
import { chmod, lstat, link, mkdir, open, rm, symlink, utimes } from "node:fs/promises";
import { join, posix } from "node:path";
import { Transform, type Readable, type TransformCallback, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { BootforgeError } from "../errors/index.js";
import { decompress } from "./compression.js";

/** Limits and policy for {@link extractTar}. */
export interface ExtractOptions {
  /** Most bytes of uncompressed tar read (default 8 GiB). */
  maxBytes?: number;
  /** Most entries (default 1,000,000). */
  maxEntries?: number;
  /** Skip device nodes and FIFOs instead of failing (container images sometimes carry /dev). */
  skipSpecial?: boolean;
  /** Decompress gzip/zstd input (default true). */
  decompress?: boolean;
}

/** Counts the uncompressed bytes and fails once they exceed the limit. */
class ByteLimit extends Transform {
  #n = 0;
  readonly #max: number;
  constructor(max: number) {
    super();
    this.#max = max;
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.#n += chunk.length;
    if (this.#n > this.#max)
      cb(new BootforgeError("too-large", `archive expands beyond the limit of ${this.#max} bytes`));
    else cb(null, chunk);
  }
}

/** Extracts a (possibly compressed) tar stream into `dest`, which must exist and should be empty. */
export async function extractTar(
  input: Readable,
  dest: string,
  opts: ExtractOptions = {},
): Promise<{ entries: number; bytes: number }> {
  const maxBytes = opts.maxBytes ?? 8 * 1024 ** 3;
  const maxEntries = opts.maxEntries ?? 1_000_000;
  const raw = opts.decompress === false ? input : decompress(input);
  const ex = tar.extract();
  const feeding = pipeline(raw, new ByteLimit(maxBytes + 1024 * 1024), ex as unknown as Writable);
  feeding.catch(() => undefined);
  // When the input side fails (truncated or corrupt tar, bad compression, size limit), whatever
  // the loop is awaiting is abandoned through this promise, so no entry stream can stall it.
  let stop: (e: unknown) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  stopped.catch(() => undefined);
  feeding.catch((e: unknown) => stop(e));
  const dirModes: [string, number, Date][] = [];
  const safeDirs = new Set<string>([""]);
  let entries = 0;
  let bytes = 0;
  let current: string | undefined;
  let partial: string | undefined;
  let writing: Promise<void> | undefined;
  try {
    for await (const entry of ex) {
      const h = entry.header;
      current = h.name;
      const data = entry as unknown as Readable;
      const fail = (why: string, kind: "invalid-input" | "unsupported" | "too-large" = "invalid-input") =>
        new BootforgeError(kind, `unsafe tar entry ${JSON.stringify(h.name)}: ${why}`);
      if (++entries > maxEntries)
        throw new BootforgeError("too-large", `archive has more than ${maxEntries} entries`);
      const rel = safeRelative(h.name);
      if (rel === undefined)
        throw fail(h.name.startsWith("/") ? "absolute path" : "path escapes the destination (..)");
      if (rel === "") {
        data.resume();
        continue;
      }
      const target = join(dest, rel);
      const parent = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
      await ensureDir(dest, parent, safeDirs, fail);
      const mtime = h.mtime ?? new Date(0);
      switch (h.type) {
        case "directory": {
          await ensureDir(dest, rel, safeDirs, fail);
          dirModes.push([target, (h.mode ?? 0o755) & 0o7777, mtime]);
          data.resume();
          break;
        }
        case "file":
        case "contiguous-file": {
          bytes += h.size ?? 0;
          if (bytes > maxBytes)
            throw fail(`extracted size exceeds the limit of ${maxBytes} bytes`, "too-large");
          await removeExisting(target, fail);
          partial = target;
          writing = writeEntry(entry, target, h.size ?? 0, fail);
          writing.catch(() => undefined);
          await Promise.race([writing, stopped]).catch((e: unknown) => {
            // Ends the entry so the abandoned writer closes its file instead of waiting forever.
            data.destroy();
            throw e;
          });
          await chmod(target, (h.mode ?? 0o644) & 0o7777);
          await utimes(target, mtime, mtime);
          partial = undefined;
          break;
        }
        case "symlink": {
          const to = h.linkname ?? "";
          if (to === "" || escapes(parent, to))
            throw fail(`symlink target ${JSON.stringify(to)} points outside the destination`);
          data.resume();
          await removeExisting(target, fail);
          await symlink(to, target);
          break;
        }
        case "link": {
          const to = safeRelative(h.linkname ?? "");
          if (to === undefined || to === "")
            throw fail(`hard link target ${JSON.stringify(h.linkname)} points outside the destination`);
          data.resume();
          const st = await lstat(join(dest, to)).catch(() => undefined);
          if (!st?.isFile())
            throw fail(`hard link target ${JSON.stringify(h.linkname)} is not an extracted regular file`);
          await ensureDir(dest, posix.dirname(to) === "." ? "" : posix.dirname(to), safeDirs, fail);
          await removeExisting(target, fail);
          await link(join(dest, to), target);
          break;
        }
        case "character-device":
        case "block-device":
        case "fifo": {
          data.resume();
          if (!opts.skipSpecial) throw fail(`${h.type} entries are not allowed`, "unsupported");
          break;
        }
        default: {
          data.resume();
          throw fail(`unsupported entry type ${String(h.type)}`, "unsupported");
        }
      }
    }
    await feeding;
  } catch (e) {
    (ex as unknown as Writable).destroy();
    const fe = await feeding.then(
      () => undefined,
      (x: unknown) => x,
    );
    // A file cut short must not stay behind looking complete. The writer settles promptly once its
    // entry is destroyed; waiting for it keeps a late open() from recreating the removed file.
    if (partial) {
      await writing?.catch(() => undefined);
      await rm(partial, { force: true }).catch(() => undefined);
    }
    throw explain(e, fe, current);
  }
  // Directory modes last, deepest first, so read-only directories do not block their own contents.
  for (const [path, mode, mtime] of dirModes.reverse()) {
    await chmod(path, mode);
    await utimes(path, mtime, mtime);
  }
  return { entries, bytes };
}

/**
 * Writes one file entry by reading the tar-stream entry through its own async iterator: node's
 * `pipeline` never settles on a streamx entry that was destroyed before it was attached (the
 * extractor destroys the current entry as soon as the input ends early), which made a truncated
 * archive hang. The iterator rejects on a destroyed entry, and the byte count catches a short one.
 */
async function writeEntry(
  entry: AsyncIterable<unknown>,
  target: string,
  size: number,
  fail: (why: string) => BootforgeError,
): Promise<void> {
  // `wx` never follows or reuses an existing path, so a planted symlink cannot redirect the write.
  const fh = await open(target, "wx", 0o600);
  let n = 0;
  try {
    for await (const c of entry) {
      const chunk = c as Buffer;
      n += chunk.length;
      await fh.write(chunk);
    }
  } finally {
    await fh.close();
  }
  if (n !== size) throw fail(`data ends after ${n} of ${size} bytes (truncated archive)`);
}

/** The error to report: our own refusals as they are, otherwise a typed error naming where the tar broke. */
function explain(e: unknown, fromInput: unknown, entry: string | undefined): BootforgeError {
  if (e instanceof BootforgeError) return e;
  if (fromInput instanceof BootforgeError) return fromInput;
  const where = entry === undefined ? "before the first entry" : `in entry ${JSON.stringify(entry)}`;
  if (typeof (e as NodeJS.ErrnoException | undefined)?.syscall === "string")
    return new BootforgeError("io", `extraction failed ${where}: ${(e as Error).message}`, { cause: e });
  // Anything else comes from the tar parser or a stream that ended early: the archive is bad.
  const cause = fromInput ?? e;
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new BootforgeError("invalid-input", `truncated or corrupt tar ${where}: ${msg}`, { cause });
}

/** Normalises a tar name to a relative path, or undefined when it is absolute or climbs out. */
function safeRelative(name: string): string | undefined {
  if (name.startsWith("/")) return undefined;
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") return undefined;
    parts.push(p);
  }
  return parts.join("/");
}

/** True when a symlink in `dir` pointing at `to` would resolve outside the root (absolute targets are root-relative). */
function escapes(dir: string, to: string): boolean {
  if (to.startsWith("/")) return false;
  let depth = dir === "" ? 0 : dir.split("/").length;
  for (const p of to.split("/")) {
    if (p === "" || p === ".") continue;
    depth += p === ".." ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

/** Creates `rel` and its parents, refusing to pass through anything that is not a real directory. */
async function ensureDir(
  dest: string,
  rel: string,
  safe: Set<string>,
  fail: (why: string) => BootforgeError,
): Promise<void> {
  if (safe.has(rel)) return;
  let cur = "";
  for (const p of rel.split("/")) {
    cur = cur ? `${cur}/${p}` : p;
    if (safe.has(cur)) continue;
    const abs = join(dest, cur);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) await mkdir(abs, { mode: 0o755 });
    else if (!st.isDirectory())
      throw fail(`path component ${JSON.stringify(cur)} is not a directory (symlink traversal?)`);
    safe.add(cur);
  }
}

async function removeExisting(target: string, fail: (why: string) => BootforgeError): Promise<void> {
  const st = await lstat(target).catch(() => undefined);
  if (!st) return;
  if (st.isDirectory()) throw fail("would replace a directory");
  await rm(target, { force: true });
}

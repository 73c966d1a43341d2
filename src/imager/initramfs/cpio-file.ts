/**
 * cpio archives on disk (the newc codec is `formats/cpio.ts`): archives written from files and
 * directory trees with data streamed from disk, and initramfs files read the way the kernel
 * unpacks them: plain archives, runs of zstd frames and xz streams, each holding one or more
 * archives.
 */
import { createReadStream } from "node:fs";
import { lstat, open, readdir, readlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError, invalidInput, ioError } from "../../errors/index.js";
import {
  ByteReader,
  HEADER_SIZE,
  NEWC_MAGIC,
  newcChunks,
  newcField,
  pad4,
  S_IFREG,
  walkArchives,
  XZ_MAGIC,
  ZSTD_MAGIC,
  type Compression,
  type CpioEntry,
  type CpioMember,
  type CpioWriteOptions,
  type MemberAction,
  type WalkState,
} from "../../formats/cpio.js";
import { run } from "../tools/run.js";
import { transform } from "../tools/transform.js";

const CHUNK = 1 << 20;

async function* fileChunks(path: string, size: number): AsyncGenerator<Buffer> {
  let seen = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK }) as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > size) break;
    yield chunk;
  }
  // The header already promised `size` bytes; a file changing underneath would corrupt the archive.
  if (seen !== size) throw ioError(`cpio: ${path} changed size while being archived (${size} → ${seen})`);
}

/** Yields the bytes of a newc archive of `entries`, in the given order, ending with the trailer and block padding. */
export function cpioChunks(
  entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>,
  options: CpioWriteOptions,
): AsyncGenerator<Buffer> {
  return newcChunks(entries, options, fileChunks);
}

/** Writes a newc archive of `entries` to `out` (which is ended). */
export async function writeCpio(
  entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>,
  out: Writable,
  options: CpioWriteOptions,
): Promise<void> {
  await pipeline(Readable.from(cpioChunks(entries, options)), out);
}

/**
 * Entries for the given relative paths under `root`, in that order, as `cpio` would archive them
 * from a listing on stdin (cwd = root): permissions from the file system, directory link counts as
 * 2 + subdirectories (what ext4 reports, computed so other file systems give the same bytes).
 */
export async function* entriesFromListing(root: string, paths: Iterable<string>): AsyncGenerator<CpioEntry> {
  for (const name of paths) {
    const full = join(root, name);
    const st = await lstat(full);
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      let subdirs = 0;
      for (const d of await readdir(full, { withFileTypes: true })) if (d.isDirectory()) subdirs++;
      yield { kind: "dir", name, mode, nlink: 2 + subdirs };
    } else if (st.isFile()) {
      yield { kind: "file", name, mode, source: full, size: st.size };
    } else if (st.isSymbolicLink()) {
      yield { kind: "symlink", name, mode, target: await readlink(full) };
    } else {
      throw invalidInput(`cpio: ${name} is not a regular file, directory or symlink`);
    }
  }
}

/** Relative paths under `root`, each before its children, siblings in byte order (upstream's `os.ReadDir` walk). */
export async function walkTree(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    const names = (await readdir(join(root, rel), { withFileTypes: true }))
      .map((d) => ({ name: d.name, dir: d.isDirectory() }))
      .sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    for (const d of names) {
      const path = rel === "" ? d.name : `${rel}/${d.name}`;
      out.push(path);
      if (d.dir) await visit(path);
    }
  };
  await visit("");
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading.

async function readAt(fh: FileHandle, pos: number, n: number): Promise<Buffer> {
  const buf = Buffer.alloc(n);
  const { bytesRead } = await fh.read(buf, 0, n, pos);
  return buf.subarray(0, bytesRead);
}

/** Reads small pieces of a file through a window of up to 1 MiB: one read per window, not per piece. */
class WindowReader {
  #buf: Buffer = Buffer.alloc(0);
  #at = 0;
  constructor(readonly fh: FileHandle) {}

  /** Up to `n` bytes at `pos` (fewer at the end of the file). */
  async bytes(pos: number, n: number): Promise<Buffer> {
    if (pos < this.#at || pos + n > this.#at + this.#buf.length) {
      this.#buf = await readAt(this.fh, pos, Math.max(n, 1 << 20));
      this.#at = pos;
    }
    return this.#buf.subarray(pos - this.#at, pos - this.#at + n);
  }
}

/**
 * End offset of the run of zstd frames starting at `pos`, found from frame and block headers
 * alone (no decoding), so an archive compressed differently can follow. A block header every
 * 128 KiB at most: the headers are read through a window, not one file read each (an 80 MiB
 * initramfs has hundreds).
 */
async function zstdRunEnd(fh: FileHandle, pos: number, size: number): Promise<number> {
  const bad = (): never => {
    throw invalidInput(`zstd: malformed frame at offset ${pos}`);
  };
  const w = new WindowReader(fh);
  for (;;) {
    if (pos + 4 > size) return pos;
    const magic = (await w.bytes(pos, 4)).readUInt32LE(0);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      const len = (await w.bytes(pos + 4, 4)).readUInt32LE(0);
      pos += 8 + len;
      continue;
    }
    if (magic !== ZSTD_MAGIC) return pos;
    const fhd = (await w.bytes(pos + 4, 1))[0] ?? bad();
    const single = (fhd & 0x20) !== 0;
    const did = [0, 1, 2, 4][fhd & 3]!;
    const fcsFlag = fhd >> 6;
    const fcs = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
    pos += 5 + (single ? 0 : 1) + did + fcs;
    for (;;) {
      const h = await w.bytes(pos, 3);
      if (h.length < 3) bad();
      const v = h[0]! | (h[1]! << 8) | (h[2]! << 16);
      const type = (v >> 1) & 3;
      const blockSize = v >>> 3;
      if (type === 3) bad();
      pos += 3 + (type === 1 ? 1 : blockSize);
      if (pos > size) bad();
      if ((v & 1) === 1) break;
    }
    if ((fhd & 0x04) !== 0) pos += 4;
  }
}

/**
 * Reads a concatenation of newc archives from a file, the way the kernel unpacks an initramfs:
 * plain archives, runs of zstd frames and xz streams (to the end of the file), each holding one or
 * more archives, with zero padding between. `visit` sees every member and says what to do with
 * its data.
 */
export async function readCpioFile(
  path: string,
  visit: (m: CpioMember) => MemberAction | Promise<MemberAction>,
): Promise<void> {
  try {
    await readSegments(path, visit);
  } catch (e) {
    throw asBootforgeError(e, path);
  }
}

function asBootforgeError(e: unknown, path: string): BootforgeError {
  if (e instanceof BootforgeError) return e;
  return ioError(`reading ${path}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

async function readSegments(
  path: string,
  visit: (m: CpioMember) => MemberAction | Promise<MemberAction>,
): Promise<void> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    const state: WalkState = { archive: 0, stopped: false };
    let pos = 0;
    while (!state.stopped && pos < size) {
      const head = await readAt(fh, pos, 6);
      if (head[0] === 0) {
        // padding between archives: skip the run of zeros
        let chunk = await readAt(fh, pos, CHUNK);
        let i = 0;
        while (chunk.length > 0) {
          i = chunk.findIndex((b) => b !== 0);
          if (i >= 0) break;
          pos += chunk.length;
          chunk = await readAt(fh, pos, CHUNK);
        }
        if (chunk.length === 0) break;
        pos += i;
        continue;
      }
      if (head.toString("latin1") === NEWC_MAGIC) {
        pos += await walkRange(path, pos, size, "none", state, visit);
        continue;
      }
      if (head.length >= 4 && head.readUInt32LE(0) === ZSTD_MAGIC) {
        const end = await zstdRunEnd(fh, pos, size);
        await walkDecoded(path, pos, end, "zstd", state, visit);
        pos = end;
        continue;
      }
      if (head.subarray(0, 4).equals(XZ_MAGIC)) {
        await walkDecoded(path, pos, size, "xz", state, visit);
        break;
      }
      throw invalidInput(`${path}: neither cpio nor xz/zstd data at offset ${pos}`);
    }
  } finally {
    await fh.close();
  }
}

/** Walks plain archives from `start`; returns how many bytes they took. */
async function walkRange(
  path: string,
  start: number,
  size: number,
  compression: Compression,
  state: WalkState,
  visit: (m: CpioMember) => MemberAction | Promise<MemberAction>,
): Promise<number> {
  // A stream of its own per segment: destroying a FileHandle stream would close the shared handle.
  const stream = createReadStream(path, { start, end: size - 1, highWaterMark: CHUNK });
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    const r = new ByteReader(it);
    await walkArchives(r, compression, state, visit);
    return r.consumed;
  } finally {
    stream.destroy();
  }
}

/** Decompresses `[start, end)` with xz or zstd and walks the archives inside. */
async function walkDecoded(
  path: string,
  start: number,
  end: number,
  compression: "xz" | "zstd",
  state: WalkState,
  visit: (m: CpioMember) => MemberAction | Promise<MemberAction>,
): Promise<void> {
  const source = createReadStream(path, { start, end: end - 1, highWaterMark: CHUNK });
  const abort = new AbortController();
  const decoded = new PassThrough({ highWaterMark: CHUNK });
  const decoding = transform(compression, ["-d", "-c", "-q"], source, decoded, {
    signal: abort.signal,
    errorKind: "invalid-input",
  });
  let walkError: Error | undefined;
  try {
    const dec = new ByteReader(decoded[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
    await walkArchives(dec, compression, state, visit);
    if (!state.stopped && (await dec.skipZeros())) {
      throw invalidInput(
        `cpio: ${path}: unexpected data inside the ${compression} archive at offset ${start}`,
      );
    }
  } catch (e) {
    walkError = asBootforgeError(e, path);
  }
  if (state.stopped || walkError !== undefined) {
    abort.abort();
    decoded.resume();
  }
  // Once we stop early, the decompressor's abort is expected and not an error.
  await decoding.catch((e: unknown) => {
    if (!abort.signal.aborted) throw e;
  });
  source.destroy();
  if (walkError !== undefined) throw walkError;
}

/** Lists every member of a (possibly concatenated, compressed) initramfs-style cpio file. */
export async function listCpioFile(path: string): Promise<CpioMember[]> {
  const out: CpioMember[] = [];
  await readCpioFile(path, (m) => {
    out.push(m);
    return "skip";
  });
  return out;
}

/** Extracts the first member called `name` to `dest`; an invalid-input error when it is missing. */
export async function extractCpioMember(archive: string, name: string, dest: string): Promise<void> {
  const fh = await open(dest, "w");
  const sink = fh.createWriteStream();
  let found = false;
  try {
    await readCpioFile(archive, (m) => {
      // The visitor is asked again only at the next header, so the member's data is complete here.
      if (found) return "stop";
      if (m.name !== name || (m.mode & 0o170000) !== S_IFREG) return "skip";
      found = true;
      return sink;
    });
  } finally {
    await new Promise<void>((resolve, reject) => sink.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
  if (!found) throw invalidInput(`initramfs ${archive} has no ${JSON.stringify(name)} member`);
}

/** Where a member's bytes lie in a plain cpio file. */
export interface MemberLocation {
  /** The plain cpio file: the archive itself, or its decompressed copy. */
  path: string;
  offset: number;
  size: number;
}

/**
 * Finds the regular file `name` in an initramfs-style archive without copying it out: a plain
 * cpio is read in place; an archive that is one xz or zstd run from its first byte to its last
 * (how Talos ships its initramfs) is decompressed by the tool into `scratch` first, file to file,
 * with no bytes passing through this process. Only headers are read (a window of 1 MiB at a
 * time). Undefined for other layouts (a plain archive followed by compressed ones, …), which
 * `extractCpioMember` handles; a member that is not there is an `invalid-input` error.
 */
export async function locateCpioMember(
  archive: string,
  name: string,
  scratch: string,
  signal?: AbortSignal,
): Promise<MemberLocation | undefined> {
  let plain = archive;
  const fh = await open(archive, "r");
  try {
    const size = (await fh.stat()).size;
    const head = await readAt(fh, 0, 6);
    const zstd = head.length >= 4 && head.readUInt32LE(0) === ZSTD_MAGIC;
    if (zstd || (head.length >= 4 && head.subarray(0, 4).equals(XZ_MAGIC))) {
      plain = scratch;
      const decompressed = run(zstd ? "zstd" : "xz", ["-d", "-c", "-q", "--", archive], {
        stdoutFile: scratch,
        errorKind: "invalid-input",
        ...(signal ? { signal } : {}),
      });
      // A zstd archive must be one run of frames (anything after them is another part, which
      // the caller reads its own way): checked while the tool decompresses rather than before.
      const whole = zstd ? zstdRunEnd(fh, 0, size).then((end) => end === size) : Promise.resolve(true);
      const [ok, done] = await Promise.allSettled([whole, decompressed]);
      if (ok.status === "rejected") throw ok.reason;
      if (!ok.value) return undefined;
      if (done.status === "rejected") throw done.reason;
    } else if (head.toString("latin1") !== NEWC_MAGIC) {
      return undefined;
    }
  } finally {
    await fh.close();
  }
  const found = await findInPlainCpio(plain, name);
  if (found === null) return undefined;
  if (found === undefined) throw invalidInput(`initramfs ${archive} has no ${JSON.stringify(name)} member`);
  return { path: plain, ...found };
}

/**
 * Walks the headers of concatenated plain newc archives (zero padding between them) for the
 * regular file `name`: its data offset and size; undefined when absent; null when the file holds
 * something other than plain newc archives.
 */
async function findInPlainCpio(
  path: string,
  name: string,
): Promise<{ offset: number; size: number } | undefined | null> {
  const fh = await open(path, "r");
  try {
    const size = (await fh.stat()).size;
    const w = new WindowReader(fh);
    let pos = 0;
    while (pos < size) {
      const ahead = await w.bytes(pos, 512);
      const skip = ahead.findIndex((b) => b !== 0);
      if (skip !== 0) {
        pos += skip < 0 ? ahead.length : skip;
        if (ahead.length === 0) break;
        continue;
      }
      const h = (await w.bytes(pos, HEADER_SIZE)).toString("latin1");
      if (h.length < HEADER_SIZE || !h.startsWith(NEWC_MAGIC)) return null;
      const mode = newcField(h, 1);
      const fileSize = newcField(h, 6);
      const nameSize = newcField(h, 11);
      const memberName = (await w.bytes(pos + HEADER_SIZE, nameSize)).toString("utf8").replace(/\0+$/, "");
      const data = pos + HEADER_SIZE + nameSize + pad4(HEADER_SIZE + nameSize);
      if (data + fileSize > size) throw invalidInput(`cpio: ${path}: member ${memberName} runs past the end`);
      if (memberName === name && (mode & 0o170000) === S_IFREG) return { offset: data, size: fileSize };
      pos = data + fileSize + pad4(fileSize);
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

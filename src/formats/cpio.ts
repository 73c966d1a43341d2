/**
 * cpio "newc" (SVR4, magic 070701) archives as the Linux kernel unpacks them from an initramfs.
 *
 * The writer produces what `cpio -H newc --create --reproducible -R +0:+0` produces for the same
 * entries (inodes numbered from 0, device numbers 0, uid/gid 0, output padded to 512 bytes), except
 * that every mtime is the caller's fixed time, so the bytes depend only on the inputs. File data is
 * streamed from disk. The reader walks a concatenation of archives, plain or compressed (xz, zstd),
 * the way the kernel and the upstream imager read an initramfs.
 */
import { createReadStream } from "node:fs";
import { lstat, open, readdir, readlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError, invalidInput, ioError } from "../errors/index.js";
import { run } from "../imager/tools/run.js";
import { transform } from "../imager/tools/transform.js";

/** One archive member; paths are relative, without a leading `./` or `/`. */
export type CpioEntry =
  | { kind: "dir"; name: string; mode: number; nlink?: number }
  | { kind: "file"; name: string; mode: number; source: string; size: number }
  | { kind: "data"; name: string; mode: number; data: Uint8Array }
  | { kind: "symlink"; name: string; target: string; mode?: number };

export interface CpioWriteOptions {
  /** mtime of every entry, seconds since the epoch (SOURCE_DATE_EPOCH). */
  mtime: number;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const NEWC_MAGIC = "070701";
const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";
// GNU cpio pads the whole archive to its 512-byte I/O block; the kernel skips the zeros.
const BLOCK = 512;
const CHUNK = 1 << 20;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw invalidInput(`cpio: value ${n} does not fit a newc header field`);
  }
  return n.toString(16).toUpperCase().padStart(8, "0");
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

function header(ino: number, mode: number, nlink: number, mtime: number, size: number, name: string): Buffer {
  const nameBytes = Buffer.from(`${name}\0`, "utf8");
  const fields = [ino, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, nameBytes.length, 0];
  const head = Buffer.from(NEWC_MAGIC + fields.map(hex8).join(""), "latin1");
  return Buffer.concat([head, nameBytes, Buffer.alloc(pad4(HEADER_SIZE + nameBytes.length))]);
}

function checkName(name: string): void {
  if (name === "" || name.startsWith("/") || name.split("/").some((p) => p === "" || p === "..")) {
    throw invalidInput(`cpio: invalid member name ${JSON.stringify(name)}`);
  }
}

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
export async function* cpioChunks(
  entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>,
  options: CpioWriteOptions,
): AsyncGenerator<Buffer> {
  let ino = 0;
  let offset = 0;
  const emit = (b: Buffer): Buffer => {
    offset += b.length;
    return b;
  };
  for await (const e of entries) {
    checkName(e.name);
    switch (e.kind) {
      case "dir":
        yield emit(header(ino++, S_IFDIR | (e.mode & 0o7777), e.nlink ?? 2, options.mtime, 0, e.name));
        break;
      case "symlink": {
        const target = Buffer.from(e.target, "utf8");
        yield emit(
          header(ino++, S_IFLNK | ((e.mode ?? 0o777) & 0o7777), 1, options.mtime, target.length, e.name),
        );
        yield emit(Buffer.concat([target, Buffer.alloc(pad4(target.length))]));
        break;
      }
      case "data":
        yield emit(header(ino++, S_IFREG | (e.mode & 0o7777), 1, options.mtime, e.data.length, e.name));
        yield emit(Buffer.concat([Buffer.from(e.data), Buffer.alloc(pad4(e.data.length))]));
        break;
      case "file":
        yield emit(header(ino++, S_IFREG | (e.mode & 0o7777), 1, options.mtime, e.size, e.name));
        for await (const chunk of fileChunks(e.source, e.size)) yield emit(chunk);
        if (pad4(e.size) > 0) yield emit(Buffer.alloc(pad4(e.size)));
        break;
    }
  }
  // GNU cpio gives the trailer inode 0 and nlink 1 regardless of renumbering.
  yield emit(header(0, 0, 1, 0, 0, TRAILER));
  const rest = (BLOCK - (offset % BLOCK)) % BLOCK;
  if (rest > 0) yield Buffer.alloc(rest);
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

/** A member header as read back; `archive` counts the archives (trailers) seen before it. */
export interface CpioMember {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  size: number;
  ino: number;
  /** Symlink target, when the member is a symlink. */
  target?: string;
  archive: number;
  compression: Compression;
}

export type Compression = "none" | "xz" | "zstd";

/** Visitor verdict: `skip` the data, `stop` reading, or a Writable to stream the data into (not ended). */
export type MemberAction = "skip" | "stop" | Writable;

/** Pulls exact byte counts from an async chunk source. */
class ByteReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes handed out or skipped so far. */
  consumed = 0;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  /** Ensures `n` buffered bytes if the source has them; returns how many are buffered. */
  async fill(n: number): Promise<number> {
    while (this.buf.length < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    }
    return this.buf.length;
  }

  peek(n: number): Buffer {
    return this.buf.subarray(0, n);
  }

  async take(n: number): Promise<Buffer> {
    if ((await this.fill(n)) < n) throw invalidInput("cpio: truncated archive");
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.consumed += n;
    return out;
  }

  /** Moves `n` bytes to `sink` (or drops them), without buffering more than one chunk. */
  async pass(n: number, sink: Writable | undefined): Promise<void> {
    let left = n;
    while (left > 0) {
      if ((await this.fill(1)) === 0) throw invalidInput("cpio: truncated archive");
      const part = this.buf.subarray(0, Math.min(left, this.buf.length));
      this.buf = this.buf.subarray(part.length);
      this.consumed += part.length;
      left -= part.length;
      if (sink !== undefined && !sink.write(part)) {
        await new Promise<void>((resolve, reject) => {
          const onErr = (e: Error): void => reject(e);
          sink.once("error", onErr);
          sink.once("drain", () => {
            sink.off("error", onErr);
            resolve();
          });
        });
      }
    }
  }

  /** Skips zero bytes (padding between concatenated archives); false at end of input. */
  async skipZeros(): Promise<boolean> {
    for (;;) {
      if ((await this.fill(1)) === 0) return false;
      let i = 0;
      while (i < this.buf.length && this.buf[i] === 0) i++;
      this.buf = this.buf.subarray(i);
      this.consumed += i;
      if (this.buf.length > 0) return true;
    }
  }

  /** The unread bytes, buffered then the rest of the source. */
  async *rest(): AsyncGenerator<Buffer> {
    if (this.buf.length > 0) yield this.buf;
    this.buf = Buffer.alloc(0);
    for (;;) {
      const r = await this.it.next();
      if (r.done) return;
      yield r.value;
    }
  }
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58]);

interface WalkState {
  archive: number;
  stopped: boolean;
}

/** Numeric field `i` of a newc header read as latin1 text (13 eight-digit hex fields after the magic). */
function newcField(header: string, i: number): number {
  const v = Number.parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
  if (Number.isNaN(v)) throw invalidInput("cpio: malformed newc header");
  return v;
}

/** Walks newc archives in `r` until input ends or the visitor stops; returns at a non-cpio byte. */
async function walkArchives(
  r: ByteReader,
  compression: Compression,
  state: WalkState,
  visit: (m: CpioMember) => MemberAction | Promise<MemberAction>,
): Promise<void> {
  while (!state.stopped && (await r.skipZeros())) {
    await r.fill(6);
    if (r.peek(6).toString("latin1") !== NEWC_MAGIC) return;
    const h = (await r.take(HEADER_SIZE)).toString("latin1");
    const field = (i: number): number => newcField(h, i);
    const namesize = field(11);
    const size = field(6);
    const name = (await r.take(namesize)).toString("utf8").replace(/\0+$/, "");
    await r.take(pad4(HEADER_SIZE + namesize));
    if (name === TRAILER) {
      state.archive++;
      continue;
    }
    const member: CpioMember = {
      name,
      ino: field(0),
      mode: field(1),
      uid: field(2),
      gid: field(3),
      nlink: field(4),
      mtime: field(5),
      size,
      archive: state.archive,
      compression,
    };
    if ((member.mode & 0o170000) === S_IFLNK) {
      member.target = (await r.take(size)).toString("utf8");
      await r.take(pad4(size));
      const action = await visit(member);
      if (action === "stop") state.stopped = true;
      continue;
    }
    const action = await visit(member);
    if (action === "stop") {
      state.stopped = true;
      return;
    }
    await r.pass(size, action === "skip" ? undefined : action);
    await r.take(pad4(size));
  }
}

const ZSTD_MAGIC = 0xfd2fb528;

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

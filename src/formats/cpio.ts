/**
 * cpio "newc" (SVR4, magic 070701) archives as the Linux kernel unpacks them from an initramfs.
 *
 * The writer produces what `cpio -H newc --create --reproducible -R +0:+0` produces for the same
 * entries (inodes numbered from 0, device numbers 0, uid/gid 0, output padded to 512 bytes), except
 * that every mtime is the caller's fixed time, so the bytes depend only on the inputs. The reader
 * walks a concatenation of plain archives from a stream of chunks. Files are not this module's:
 * the caller supplies file data, and `imager/initramfs/cpio-file.ts` reads and writes archives
 * on disk (compressed ones too).
 */
import type { Writable } from "node:stream";
import { invalidInput } from "../errors/index.js";

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
/** File-type bits of a regular file in a member's mode. */
export const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
/** The magic that starts every newc header. */
export const NEWC_MAGIC = "070701";
/** Size of a newc header before the name. */
export const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";
// GNU cpio pads the whole archive to its 512-byte I/O block; the kernel skips the zeros.
const BLOCK = 512;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw invalidInput(`cpio: value ${n} does not fit a newc header field`);
  }
  return n.toString(16).toUpperCase().padStart(8, "0");
}

/** Zero bytes that pad a header+name or a member's data to a 4-byte boundary. */
export const pad4 = (n: number): number => (4 - (n % 4)) % 4;

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

/** The data of a `file` entry: exactly `size` bytes, which the header already promised. */
export type FileData = (source: string, size: number) => AsyncIterable<Buffer>;

/**
 * Yields the bytes of a newc archive of `entries`, in the given order, ending with the trailer and
 * block padding; `fileData` supplies the data of `file` entries.
 */
export async function* newcChunks(
  entries: Iterable<CpioEntry> | AsyncIterable<CpioEntry>,
  options: CpioWriteOptions,
  fileData: FileData,
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
        for await (const chunk of fileData(e.source, e.size)) yield emit(chunk);
        if (pad4(e.size) > 0) yield emit(Buffer.alloc(pad4(e.size)));
        break;
    }
  }
  // GNU cpio gives the trailer inode 0 and nlink 1 regardless of renumbering.
  yield emit(header(0, 0, 1, 0, 0, TRAILER));
  const rest = (BLOCK - (offset % BLOCK)) % BLOCK;
  if (rest > 0) yield Buffer.alloc(rest);
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
export class ByteReader {
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

/** The first bytes of an xz stream. */
export const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58]);

/** The magic of a zstd frame (little-endian). */
export const ZSTD_MAGIC = 0xfd2fb528;

/** Progress over a concatenation of archives: trailers seen, and whether the visitor stopped. */
export interface WalkState {
  archive: number;
  stopped: boolean;
}

/** Numeric field `i` of a newc header read as latin1 text (13 eight-digit hex fields after the magic). */
export function newcField(header: string, i: number): number {
  const v = Number.parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
  if (Number.isNaN(v)) throw invalidInput("cpio: malformed newc header");
  return v;
}

/** Walks newc archives in `r` until input ends or the visitor stops; returns at a non-cpio byte. */
export async function walkArchives(
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

/**
 * Random access into an uncompressed tar file: one pass over the headers records where each
 * regular file's bytes live, so docker-archive and OCI tar blobs stream straight from the archive.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { BootforgeError } from "../errors/index.js";

/** Where one member's data sits in the archive. */
export interface TarMember {
  offset: number;
  size: number;
}

const MAX_MEMBERS = 1_000_000;

/** Index of a tar file's regular members by normalised path. */
export class TarIndex {
  readonly path: string;
  readonly members: ReadonlyMap<string, TarMember>;

  private constructor(path: string, members: Map<string, TarMember>) {
    this.path = path;
    this.members = members;
  }

  /** Scans the headers of the tar at `path` (ustar, pax `path`/`size`, GNU long names). */
  static async open(path: string): Promise<TarIndex> {
    const fh = await open(path, "r").catch((e: NodeJS.ErrnoException) => {
      throw new BootforgeError(
        e.code === "ENOENT" ? "not-found" : "io",
        `cannot open ${path}: ${e.code ?? e.message}`,
      );
    });
    const members = new Map<string, TarMember>();
    try {
      const { size: total } = await fh.stat();
      const block = Buffer.alloc(512);
      let pos = 0;
      let longName: string | undefined;
      let pax: Record<string, string> = {};
      for (let n = 0; n < MAX_MEMBERS * 3; n++) {
        if (pos + 512 > total) break;
        await fh.read(block, 0, 512, pos);
        if (block.every((b) => b === 0)) break;
        const bad = () =>
          new BootforgeError("invalid-input", `${path}: not a valid tar archive (header at ${pos})`);
        if (!checksumOk(block)) throw bad();
        const size = parseNumber(block.subarray(124, 136));
        if (size < 0) throw bad();
        const type = String.fromCharCode(block[156] ?? 0);
        const dataAt = pos + 512;
        const next = dataAt + Math.ceil(size / 512) * 512;
        if (next > total + 512) throw new BootforgeError("invalid-input", `${path}: truncated tar archive`);
        const readData = async (limit: number) => {
          if (size > limit) throw bad();
          const b = Buffer.alloc(size);
          await fh.read(b, 0, size, dataAt);
          return b;
        };
        if (type === "L") {
          longName = cstring(await readData(1 << 20));
        } else if (type === "x") {
          pax = parsePax(await readData(1 << 20));
        } else if (type === "g") {
          // Global headers carry defaults we do not need.
        } else {
          const prefix = block.subarray(257, 263).toString("latin1").startsWith("ustar")
            ? cstring(block.subarray(345, 500))
            : "";
          const short = cstring(block.subarray(0, 100));
          const name = pax.path ?? longName ?? (prefix ? `${prefix}/${short}` : short);
          const realSize = pax.size !== undefined ? Number(pax.size) : size;
          if (type === "0" || type === "\0" || type === "7") {
            members.set(normalize(name), { offset: dataAt, size: realSize });
            if (members.size > MAX_MEMBERS)
              throw new BootforgeError("too-large", `${path}: too many members`);
          }
          longName = undefined;
          pax = {};
        }
        pos = next;
      }
    } finally {
      await fh.close();
    }
    return new TarIndex(path, members);
  }

  /** The member at `name`, if present. */
  get(name: string): TarMember | undefined {
    return this.members.get(normalize(name));
  }

  /** A stream of a member's bytes. */
  stream(name: string): Readable {
    const m = this.get(name);
    if (!m) throw new BootforgeError("not-found", `${this.path}: no member ${name}`);
    if (m.size === 0) return createReadStream(this.path, { start: 0, end: -1 });
    return createReadStream(this.path, { start: m.offset, end: m.offset + m.size - 1 });
  }

  /** A small member's bytes (manifest.json, index.json, configs). */
  async read(name: string, limit = 16 << 20): Promise<Buffer> {
    const m = this.get(name);
    if (!m) throw new BootforgeError("not-found", `${this.path}: no member ${name}`);
    if (m.size > limit)
      throw new BootforgeError("too-large", `${this.path}: ${name} is larger than ${limit} bytes`);
    const chunks: Buffer[] = [];
    for await (const c of this.stream(name)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}

/** `./a//b/` → `a/b`. */
export function normalize(name: string): string {
  return name
    .split("/")
    .filter((p) => p !== "" && p !== ".")
    .join("/");
}

function cstring(b: Buffer): string {
  const z = b.indexOf(0);
  return b.subarray(0, z < 0 ? b.length : z).toString("utf8");
}

function parseNumber(b: Buffer): number {
  // Base-256 for sizes over 8 GiB (GNU), octal otherwise.
  if ((b[0] ?? 0) & 0x80) {
    let v = 0;
    for (let i = 1; i < b.length; i++) v = v * 256 + (b[i] ?? 0);
    return v;
  }
  const s = cstring(b).trim();
  return s === "" ? 0 : /^[0-7]+$/.test(s) ? parseInt(s, 8) : -1;
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] ?? 0);
  return parseNumber(block.subarray(148, 156)) === sum;
}

function parsePax(b: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  for (let guard = 0; i < b.length && guard < 10_000; guard++) {
    const sp = b.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(b.subarray(i, sp).toString());
    if (!Number.isSafeInteger(len) || len <= 0) break;
    const rec = b.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/**
 * Deterministic layers: tar entries sorted by path with fixed times and ownership, compressed,
 * written to a file while both digests (compressed blob and uncompressed diff ID) are computed.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import tar from "tar-stream";
import type { Header as TarHeader } from "tar-stream";
import { BootforgeError } from "../errors/index.js";
import { compressor, type Compression } from "./compression.js";
import { digestHex, HashingStream, type Digest } from "./digest.js";
import { MediaTypes, type Descriptor } from "./media-types.js";

/** One entry of a layer. Directories and files default to 0755 and 0644. */
export interface LayerEntry {
  path: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  mode?: number;
  content?: Uint8Array | string;
  /**
   * A file whose bytes are streamed into the entry instead of `content` (large layers are never
   * held in memory); its size is read when the entry is written and must not change meanwhile.
   */
  source?: string;
  /** Target of a symlink or hard link. */
  linkname?: string;
  /** Numeric owner (default 0: root); no user or group names are written. */
  uid?: number;
  gid?: number;
}

/** Options for deterministic tar output. */
export interface TarOptions {
  /** Seconds since the epoch for every mtime (SOURCE_DATE_EPOCH); default 0. */
  epoch?: number;
  /** Keep the given order instead of sorting by path (hostile-tar tests need this). */
  keepOrder?: boolean;
}

/** A deterministic tar stream of `entries` (sorted, mtime = epoch, uid/gid 0 unless given, no user names). */
export function tarStream(entries: readonly LayerEntry[], opts: TarOptions = {}): Readable {
  const pack = tar.pack();
  const sorted = opts.keepOrder
    ? [...entries]
    : [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const mtime = new Date((opts.epoch ?? 0) * 1000);
  void (async () => {
    try {
      for (const e of sorted) {
        const type = e.type ?? "file";
        const content = e.content === undefined ? Buffer.alloc(0) : Buffer.from(e.content);
        const sourceSize =
          type === "file" && e.source !== undefined ? (await stat(e.source)).size : undefined;
        const header: Partial<TarHeader> & { name: string } = {
          name: e.path,
          type,
          mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
          mtime,
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          uname: "",
          gname: "",
          size: type === "file" ? (sourceSize ?? content.length) : 0,
          ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        };
        await new Promise<void>((resolve, reject) => {
          const done = (err?: Error | null) => (err ? reject(err) : resolve());
          if (type === "file" && e.source !== undefined) {
            // tar-stream checks that exactly `size` bytes arrive: a file that changed fails here.
            const sink = pack.entry(header, done);
            pipeline(createReadStream(e.source), sink).catch(reject);
          } else if (type === "file") pack.entry(header, content, done);
          else pack.entry(header, done);
        });
      }
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
    }
  })();
  return pack as unknown as Readable;
}

/** A layer written to disk: the file, its descriptor and its diff ID. */
export interface BuiltLayer {
  path: string;
  descriptor: Descriptor;
  diffId: Digest;
}

/** Writes `entries` as a compressed layer file in `dir` (named by digest, written atomically). */
export async function buildLayer(
  entries: readonly LayerEntry[],
  dir: string,
  opts: TarOptions & { compression?: Compression; mediaType?: string } = {},
): Promise<BuiltLayer> {
  return writeLayerStream(tarStream(entries, opts), dir, opts);
}

/** Compresses an uncompressed tar stream into a layer file in `dir`, computing both digests. */
export async function writeLayerStream(
  tarBytes: Readable,
  dir: string,
  opts: { compression?: Compression; mediaType?: string } = {},
): Promise<BuiltLayer> {
  const compression = opts.compression ?? "gzip";
  const diff = new HashingStream();
  const blob = new HashingStream();
  const tmp = join(dir, `.tmp-layer-${randomBytes(6).toString("hex")}`);
  try {
    await pipeline(tarBytes, diff, compressor(compression), blob, createWriteStream(tmp));
    const path = join(dir, digestHex(blob.digest));
    await rename(tmp, path);
    const mediaType =
      opts.mediaType ??
      (compression === "gzip"
        ? MediaTypes.ociLayerGzip
        : compression === "zstd"
          ? MediaTypes.ociLayerZstd
          : MediaTypes.ociLayer);
    return { path, diffId: diff.digest, descriptor: { mediaType, digest: blob.digest, size: blob.size } };
  } catch (e) {
    await rm(tmp, { force: true });
    throw e instanceof BootforgeError
      ? e
      : new BootforgeError("io", `writing layer failed: ${(e as Error).message}`, { cause: e });
  }
}

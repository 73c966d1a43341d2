/**
 * The embedded storage backend: one directory holding assets and schematics.
 * Every write goes to `tmp/` first, is fsynced, then renamed into place, so a crash
 * (even SIGKILL) leaves either the complete object or nothing; `tmp/` is swept on open.
 * An asset's SHA-256 and SHA-512 are recorded in `digests/` (same two-level layout) before the
 * asset itself is renamed into place, so a visible asset always has its digests.
 */
import { createReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BootforgeError, invalidInput } from "../../errors/index.js";
import { decodeDigests, digestStream, encodeDigests, type AssetDigests } from "./asset-digests.js";
import type { AssetStore, SchematicStore, StoredObject } from "./types.js";

const KEY = /^[a-z0-9][a-z0-9._-]{0,127}$/;

function checkKey(key: string): void {
  // Keys become file names: refuse anything that could escape the store or collide with temp files.
  if (!KEY.test(key) || key.includes("..")) throw invalidInput(`invalid storage key ${JSON.stringify(key)}`);
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** Maps ENOSPC and friends to an `io` error that names the problem instead of corrupting the cache. */
function storageError(action: string, e: unknown): BootforgeError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === "ENOSPC"
      ? "no space left on the storage device"
      : code === "EDQUOT"
        ? "disk quota exceeded on the storage device"
        : code === "EFBIG"
          ? "file too large for the storage device (size limit exceeded: check `ulimit -f` and the filesystem's maximum file size)"
          : String((e as Error)?.message ?? e);
  return new BootforgeError("io", `storage: ${action}: ${why}`, { cause: e });
}

export class LocalStore implements AssetStore {
  private constructor(readonly root: string) {}

  /** Opens (creating if needed) a store rooted at `root` and removes leftovers of interrupted writes. */
  static async open(root: string): Promise<LocalStore> {
    for (const d of ["assets", "digests", "schematics", "tmp"])
      await mkdir(join(root, d), { recursive: true });
    const tmp = join(root, "tmp");
    for (const name of await readdir(tmp)) await rm(join(tmp, name), { recursive: true, force: true });
    return new LocalStore(root);
  }

  private assetPath(key: string): string {
    return join(this.root, "assets", key.slice(0, 2), key);
  }

  private digestsPath(key: string): string {
    return join(this.root, "digests", key.slice(0, 2), `${key}.json`);
  }

  /** Writes the digest record of `key` atomically (temp file, fsync, rename). */
  private async writeDigests(key: string, d: AssetDigests): Promise<void> {
    const tmp = this.tempPath(`${key}.digests`);
    try {
      const fh = await open(tmp, "w");
      try {
        await fh.writeFile(encodeDigests(d));
        await fh.sync();
      } finally {
        await fh.close();
      }
      const dest = this.digestsPath(key);
      await mkdir(join(dest, ".."), { recursive: true });
      await rename(tmp, dest);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  /**
   * The recorded digests of `key`; an asset stored by a Bootforge that did not record them is
   * hashed once here and its record written, so later requests read only the record.
   */
  private async readDigests(key: string, path: string): Promise<AssetDigests> {
    try {
      return decodeDigests(await readFile(this.digestsPath(key), "utf8"), key);
    } catch (e) {
      if (!isNotFound(e))
        throw e instanceof BootforgeError ? e : storageError(`reading digests of ${key}`, e);
    }
    try {
      const d = await digestStream(createReadStream(path));
      await this.writeDigests(key, d);
      return d;
    } catch (e) {
      throw storageError(`hashing ${key}`, e);
    }
  }

  /** A fresh path under tmp/ for a writer; callers must rename or remove it. */
  tempPath(hint = "obj"): string {
    return join(this.root, "tmp", `${hint.replace(/[^a-z0-9.-]/gi, "_")}-${randomBytes(8).toString("hex")}`);
  }

  async get(key: string): Promise<StoredObject | undefined> {
    checkKey(key);
    const path = this.assetPath(key);
    try {
      const st = await stat(path);
      if (!st.isFile()) return undefined;
      return fileObject(key, path, st.size, () => this.readDigests(key, path));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw storageError(`reading ${key}`, e);
    }
  }

  async put(key: string, produce: (tmpPath: string) => Promise<void>): Promise<StoredObject> {
    checkKey(key);
    const tmp = this.tempPath(key);
    try {
      await produce(tmp);
      await fsyncPath(tmp);
      // Hashed while the bytes are still in the page cache from being written; recorded first.
      const digests = await digestStream(createReadStream(tmp));
      await this.writeDigests(key, digests);
      const dest = this.assetPath(key);
      await mkdir(join(dest, ".."), { recursive: true });
      await rename(tmp, dest);
      const st = await stat(dest);
      return fileObject(key, dest, st.size, () => Promise.resolve(digests));
    } catch (e) {
      await rm(tmp, { force: true, recursive: true });
      if (e instanceof BootforgeError) throw e;
      throw storageError(`writing ${key}`, e);
    }
  }

  /** Reads small text written by putText; undefined when absent. */
  private async getText(rel: string, key: string): Promise<string | undefined> {
    checkKey(key);
    try {
      return await readFile(join(this.root, rel), "utf8");
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw storageError(`reading ${key}`, e);
    }
  }

  /** Writes small text atomically (schematics, metadata). */
  private async putText(rel: string, key: string, text: string): Promise<void> {
    checkKey(key);
    const tmp = this.tempPath(key);
    try {
      const fh = await open(tmp, "w");
      try {
        await fh.writeFile(text);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(this.root, rel));
    } catch (e) {
      await rm(tmp, { force: true });
      throw storageError(`writing ${key}`, e);
    }
  }

  /** The schematic store view of this directory (canonical YAML by ID). */
  schematics(): SchematicStore {
    return {
      get: (id) => this.getText(join("schematics", `${id}.yaml`), id),
      put: (id, yaml) => this.putText(join("schematics", `${id}.yaml`), id, yaml),
    };
  }
}

function fileObject(
  key: string,
  path: string,
  size: number,
  digests: () => Promise<AssetDigests>,
): StoredObject {
  return {
    key,
    size,
    path,
    etag: `"${key}"`,
    digests,
    open: (range) =>
      range ? createReadStream(path, { start: range.start, end: range.end }) : createReadStream(path),
  };
}

/**
 * A cache of image filesystems extracted to directories, keyed by manifest digest: each image is
 * flattened (whiteouts applied) and extracted once into a temporary directory that is renamed into
 * place, so readers never see a half-written tree and concurrent callers share one extraction.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { BootforgeError } from "../errors/index.js";
import { digestAlgorithm, digestHex } from "../oci/digest.js";
import { extractTar } from "../oci/extract.js";
import { flattenImage } from "../oci/flatten.js";
import type { ResolvedImage } from "../oci/image.js";

/** Temporary extraction trees older than this were left by a killed process. */
const STALE_TMP_MS = 6 * 60 * 60 * 1000;

/** Extracted image trees under `<dir>/rootfs/<alg>-<hex>/`. */
export class ExtractedImages {
  readonly dir: string;
  readonly #inflight = new Map<string, Promise<string>>();
  #swept: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The directory holding `image`'s flattened filesystem, extracting it on first use. */
  async extract(image: ResolvedImage): Promise<string> {
    const digest = image.descriptor.digest;
    const pending = this.#inflight.get(digest);
    if (pending) return pending;
    const p = this.#extract(image).finally(() => this.#inflight.delete(digest));
    this.#inflight.set(digest, p);
    return p;
  }

  /**
   * Removes temporary trees left by a killed process. The cache may be shared by processes running
   * now, so only trees untouched for longer than any extraction takes are removed.
   */
  async #sweepStale(): Promise<void> {
    const root = join(this.dir, "rootfs");
    const names = await readdir(root).catch(() => [] as string[]);
    const cutoff = Date.now() - STALE_TMP_MS;
    for (const name of names) {
      if (!name.includes(".tmp-")) continue;
      const st = await stat(join(root, name)).catch(() => undefined);
      if (st !== undefined && st.mtimeMs < cutoff)
        await rm(join(root, name), { recursive: true, force: true });
    }
  }

  async #extract(image: ResolvedImage): Promise<string> {
    this.#swept ??= this.#sweepStale();
    await this.#swept;
    const digest = image.descriptor.digest;
    const final = join(this.dir, "rootfs", `${digestAlgorithm(digest)}-${digestHex(digest)}`);
    if (await isDir(final)) return final;
    await mkdir(join(this.dir, "rootfs"), { recursive: true });
    const tmp = `${final}.tmp-${randomBytes(6).toString("hex")}`;
    await mkdir(tmp);
    try {
      // Extension and release images never need device nodes; skip them rather than fail.
      await extractTar(flattenImage(image), tmp, { skipSpecial: true, decompress: false });
      await rename(tmp, final).catch(async (e: NodeJS.ErrnoException) => {
        // Another process won the race: its tree is equivalent (same digest).
        if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
        await rm(tmp, { recursive: true, force: true });
      });
      return final;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (e instanceof BootforgeError) throw e;
      throw new BootforgeError(
        "io",
        `extracting ${image.source.description}@${digest}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * Puts a finished output into the output directory: the file is produced in a staging directory
 * next to the destination, post-processed there (`outFormat` compression), and renamed into place,
 * so a failed or cancelled build never leaves a partial or half-compressed file behind.
 */
import { mkdir, mkdtemp, rename, rm, rmdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { ioError } from "../../errors/index.js";
import type { OutFormat } from "../../profile/model.js";
import { compressFile, type Compression } from "../disk/compress.js";
import type { Reporter } from "../reporter/reporter.js";

/** A staging area in the output directory for one build. */
export class OutputStaging {
  readonly outDir: string;
  readonly dir: string;
  /** The outermost directory `create` made for the output directory, if it made any. */
  readonly #created: string | undefined;
  #published = false;

  private constructor(outDir: string, dir: string, created: string | undefined) {
    this.outDir = outDir;
    this.dir = dir;
    this.#created = created;
  }

  /** Creates the output directory (0755, like upstream's MkdirAll) and a hidden staging directory in it. */
  static async create(outDir: string): Promise<OutputStaging> {
    try {
      const created = await mkdir(outDir, { recursive: true, mode: 0o755 });
      return new OutputStaging(outDir, await mkdtemp(join(outDir, ".bootforge-")), created);
    } catch (e) {
      throw ioError(`cannot create output directory ${outDir}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Where a stage writes the output called `name` before it is published. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /**
   * Publishes the staged output `name`: reports `output asset path`, compresses per `format`
   * (reporting upstream's lines) and renames the result into the output directory.
   */
  async publish(
    name: string,
    format: OutFormat | undefined,
    reporter: Reporter,
    opts: { sourceDateEpoch: number; signal?: AbortSignal },
  ): Promise<string> {
    const staged = this.path(name);
    const final = join(this.outDir, name);
    this.#published = true;
    if (format === undefined || format === "raw" || format === "unknown") {
      await rename(staged, final);
      reporter.report({ message: `output asset path: ${final}`, status: "succeeded" });
      return final;
    }
    reporter.report({ message: `output asset path: ${final}`, status: "succeeded" });
    const kind: Compression = format;
    const tarball = kind === ".tar.gz";
    reporter.report({ message: tarball ? "processing .tar.gz" : `compressing ${kind}`, status: "running" });
    await compressFile(staged, `${staged}${kind}`, kind, {
      epoch: opts.sourceDateEpoch,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    await rm(staged, { force: true });
    await rename(`${staged}${kind}`, `${final}${kind}`);
    reporter.report({
      message: tarball ? `archive is ready: ${final}${kind}` : `compression done: ${final}${kind}`,
      status: "succeeded",
    });
    return `${final}${kind}`;
  }

  /**
   * Removes the staging directory and anything left in it; when nothing was published, also the
   * output directories `create` made (a failed build leaves no trace), as far as they are empty.
   */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    if (this.#published || this.#created === undefined) return;
    // From the output directory up to the outermost one `create` made, each only while empty.
    const outermost = resolve(this.#created);
    for (let dir = resolve(this.outDir); ; dir = dirname(dir)) {
      const removed = await rmdir(dir).then(
        () => true,
        () => false,
      );
      if (!removed || dir === outermost || dir === dirname(dir)) return;
    }
  }
}

/** Streams blobs into a deterministic tar (fixed times and ownership) without buffering them. */
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { Pack } from "tar-stream";

/** A tar being written entry by entry to `out`. */
export class TarWriter {
  readonly #pack: Pack;
  readonly #done: Promise<void>;
  readonly #epoch: Date;

  constructor(out: Writable, epochSeconds = 0) {
    this.#pack = tar.pack();
    this.#epoch = new Date(epochSeconds * 1000);
    this.#done = pipeline(this.#pack as unknown as Readable, out);
  }

  /** Adds a directory entry. */
  async dir(name: string): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.#pack.entry(this.#header(name, 0, "directory"), (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Adds a file from bytes. */
  async bytes(name: string, data: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) =>
      this.#pack.entry(this.#header(name, data.length, "file"), Buffer.from(data), (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  }

  /** Adds a file of exactly `size` bytes from a stream. */
  async stream(name: string, size: number, src: Readable): Promise<void> {
    const sink = this.#pack.entry(this.#header(name, size, "file"));
    await pipeline(src, sink as unknown as Writable);
  }

  /** Finishes the archive and waits until `out` has it all. */
  async finish(): Promise<void> {
    this.#pack.finalize();
    await this.#done;
  }

  /** Aborts the archive (the output is left incomplete; callers write to temp files). */
  abort(e: Error): void {
    this.#pack.destroy(e);
  }

  #header(name: string, size: number, type: "file" | "directory") {
    return {
      name,
      size,
      type,
      mode: type === "directory" ? 0o755 : 0o644,
      mtime: this.#epoch,
      uid: 0,
      gid: 0,
      uname: "",
      gname: "",
    };
  }
}

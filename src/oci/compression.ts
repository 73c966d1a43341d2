/**
 * Layer (de)compression as streams: gzip through node:zlib, zstd through the Debian `zstd`
 * binary used as a pipe transformer, and sniffing of the format from the first bytes.
 */
import { spawn } from "node:child_process";
import { Duplex, PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { BootforgeError } from "../errors/index.js";

/** Compression of a layer blob. */
export type Compression = "gzip" | "zstd" | "none";

/** Detects gzip or zstd by magic number. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return "zstd";
  return "none";
}

/** A zstd process as a Duplex: bytes in, bytes out; a failure or a missing binary errors the stream. */
export function zstdStream(mode: "compress" | "decompress", level = 3): Duplex {
  const args =
    mode === "compress" ? ["-q", "-c", `-${level}`, "--no-progress"] : ["-q", "-d", "-c", "--no-progress"];
  const child = spawn("zstd", args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    if (stderr.length < 2048) stderr += b.toString();
  });
  // stdout alone is not the verdict: zstd reports a truncated or corrupt frame only through its
  // exit status, after stdout has already ended. So the readable side ends only once the process
  // has exited with 0; otherwise a cut-off stream would pass as a short, "successful" one.
  const out = new PassThrough();
  child.stdout.pipe(out, { end: false });
  const duplex = Duplex.from({ writable: child.stdin, readable: out });
  child.on("error", (e: NodeJS.ErrnoException) => {
    duplex.destroy(
      e.code === "ENOENT"
        ? new BootforgeError("dependency", "zstd is not installed (Debian package: zstd)")
        : new BootforgeError("io", `zstd failed to start: ${e.message}`),
    );
  });
  child.on("close", (code, signal) => {
    if (code === 0) {
      if (!out.destroyed) out.end();
    } else if (!duplex.destroyed) {
      duplex.destroy(
        new BootforgeError(
          "io",
          `zstd ${mode} failed (${signal ?? `exit ${String(code)}`}): ${stderr.trim().split("\n")[0] ?? ""}`,
        ),
      );
    }
  });
  duplex.on("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  child.stdin.on("error", () => undefined);
  return duplex;
}

/** A compressing transform for `c`. */
export function compressor(c: Compression): Duplex {
  if (c === "gzip") return createGzip({ level: 6 });
  if (c === "zstd") return zstdStream("compress");
  return new PassThrough();
}

/** Decompresses a layer stream of any supported format, detected from its first bytes. */
export function decompress(input: Readable): Readable {
  const out = new PassThrough();
  void (async () => {
    const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const seen: Buffer[] = [];
    let head = Buffer.alloc(0);
    for (
      let r = head.length < 4 ? await it.next() : undefined;
      r && !r.done;
      r = head.length < 4 ? await it.next() : undefined
    ) {
      seen.push(r.value);
      head = Buffer.concat(seen);
    }
    const kind = sniffCompression(head);
    const dec: Duplex =
      kind === "gzip" ? createGunzip() : kind === "zstd" ? zstdStream("decompress") : new PassThrough();
    // Replay the sniffed bytes, then the rest of the input, through the decoder.
    async function* rest(): AsyncGenerator<Buffer> {
      if (head.length) yield head;
      for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    }
    try {
      await pipeline(Readable.from(rest()), dec, out);
    } catch (e) {
      if (
        kind === "gzip" &&
        !(e instanceof BootforgeError) &&
        (e as NodeJS.ErrnoException).code?.startsWith("Z_")
      ) {
        throw new BootforgeError("io", `corrupt gzip layer: ${(e as Error).message}`);
      }
      throw e;
    }
  })().catch((e: unknown) => {
    out.destroy(e as Error);
    if (!input.destroyed) input.destroy();
  });
  return out;
}

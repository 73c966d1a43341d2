/**
 * Runs an overlay installer (third-party code from an image) confined: bubblewrap with the host
 * read-only, only the given paths writable, no network, its own PID namespace (so a timeout kills
 * every process it started) and a clean environment. Output is capped so a chatty or hostile
 * installer cannot grow the build's memory.
 */
import { Writable } from "node:stream";
import { BootforgeError } from "../../errors/index.js";
import { run } from "../tools/run.js";

/** Options of `runConfined`. */
export interface ConfinedRunOptions {
  /** Working directory (writable; also HOME and TMPDIR). */
  workDir: string;
  /** Further paths the program may write (files or directories). */
  writable?: readonly string[];
  stdin: string;
  timeoutMs: number;
  /** Most stdout bytes kept (default 1 MiB); more is an error. */
  maxStdout?: number;
  signal?: AbortSignal;
}

/** Collects at most `limit` bytes, failing the pipeline beyond that. */
class CappedSink extends Writable {
  readonly chunks: Buffer[] = [];
  overflowed = false;
  #n = 0;
  constructor(readonly limit: number) {
    super();
  }
  override _write(chunk: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#n += chunk.length;
    if (this.#n > this.limit) {
      this.overflowed = true;
      cb(new BootforgeError("install", `overlay installer wrote more than ${this.limit} bytes to stdout`));
      return;
    }
    this.chunks.push(chunk);
    cb();
  }
}

/** Runs `program args…` in the sandbox; returns its stdout. Failures are `install` errors. */
export async function runConfined(
  program: string,
  args: readonly string[],
  o: ConfinedRunOptions,
): Promise<Buffer> {
  const binds = [o.workDir, ...(o.writable ?? [])].flatMap((p) => ["--bind", p, p]);
  const bwrapArgs = [
    "--ro-bind", "/", "/",
    "--dev", "/dev",
    "--proc", "/proc",
    ...binds,
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--setenv", "PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
    "--setenv", "HOME", o.workDir,
    "--setenv", "TMPDIR", o.workDir,
    "--chdir", o.workDir,
    "--",
    program,
    ...args,
  ]; // prettier-ignore
  const sink = new CappedSink(o.maxStdout ?? 1024 * 1024);
  try {
    await run("bwrap", bwrapArgs, {
      stdin: o.stdin,
      stdout: sink,
      timeoutMs: o.timeoutMs,
      errorKind: "install",
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (e) {
    // the installer then dies of SIGPIPE; the cap is the real reason
    if (sink.overflowed) {
      throw new BootforgeError("install", `overlay installer wrote more than ${sink.limit} bytes to stdout`, {
        cause: e,
      });
    }
    throw e;
  }
  return Buffer.concat(sink.chunks);
}

/**
 * Gates: named pipes (FIFOs) a running shell waits on (`read _ < fifo`) until this process opens
 * the gate. A sequence of programs can then run its first steps while Node is still producing
 * the input of the later ones, in one shell (one program start) rather than two runs with a
 * start and an exit report between them. Node holds each FIFO open read-write from the start,
 * so neither side's open ever blocks and the opening line is never lost; the FIFOs are made once
 * (`mkfifo`) and reused, still open, once a shell has read their line.
 */
import { constants, mkdtempSync, rmSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./run.js";

let dir: string | undefined;
let made = 0;
/** FIFOs whose every line was read, kept open (read-write) by this process for the next use. */
const free: { path: string; fh: FileHandle }[] = [];

async function takeFifo(): Promise<{ path: string; fh: FileHandle }> {
  const reused = free.pop();
  if (reused !== undefined) return reused;
  if (dir === undefined) {
    const gates = mkdtempSync(join(tmpdir(), "bootforge-gates-"));
    dir = gates;
    process.once("exit", () => rmSync(gates, { recursive: true, force: true }));
  }
  const path = join(dir, `gate-${++made}`);
  await run("mkfifo", ["-m", "600", path]);
  // Read-write: never blocks (Linux), and keeps the pipe alive until the shell has read the line.
  return { path, fh: await open(path, constants.O_RDWR | constants.O_NONBLOCK) };
}

/** A gate for one use: the FIFO a shell waits on, opened by `ready` settling. */
export interface Gate {
  /** The FIFO the shell reads a line from. */
  readonly path: string;
  /**
   * Ends this use once the shell has exited: `passed` says the shell read the line (it ran past
   * the gate), so the FIFO is empty and goes back to the pool; otherwise a line may be left in
   * it, and it is closed for good.
   */
  close(passed: boolean): Promise<void>;
}

/**
 * Takes a gate from the pool that opens when `ready` resolves; a rejected `ready` leaves it shut
 * (the caller stops the shell waiting on it).
 */
export async function openGate(ready: Promise<void>): Promise<Gate> {
  const { path, fh } = await takeFifo();
  let closed = false;
  const opened = ready.then(async () => {
    if (!closed) await fh.write("open\n");
  });
  opened.catch(() => undefined);
  return {
    path,
    close: async (passed) => {
      if (closed) return;
      closed = true;
      // Passed: the line was written and read, the FIFO is empty. Otherwise a line written (or
      // still to come) would open the next user's gate at once: the FIFO is not reused (closing
      // waits for a write in flight; a later one is not made, see `closed`).
      if (passed) free.push({ path, fh });
      else await fh.close();
    },
  };
}

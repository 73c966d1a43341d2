/**
 * Gates: named pipes (FIFOs) a running shell waits on (`read _ < fifo`) until this process opens
 * the gate. A sequence of programs can then run its first steps while Node is still producing
 * the input of the later ones, in one shell (one program start) rather than two runs with a
 * start and an exit report between them. Node holds each FIFO open read-write from the start,
 * so neither side's open ever blocks and the opening line is never lost; the FIFOs are made once
 * (`mkfifo`) and reused.
 */
import { constants, mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./run.js";

let dir: string | undefined;
let made = 0;
const free: string[] = [];

async function takeFifo(): Promise<string> {
  const reused = free.pop();
  if (reused !== undefined) return reused;
  if (dir === undefined) {
    dir = mkdtempSync(join(tmpdir(), "bootforge-gates-"));
    const made = dir;
    process.once("exit", () => rmSync(made, { recursive: true, force: true }));
  }
  const path = join(dir, `gate-${++made}`);
  await run("mkfifo", ["-m", "600", path]);
  return path;
}

/** A gate for one use: the FIFO a shell waits on, opened by `ready` settling. */
export interface Gate {
  /** The FIFO the shell reads a line from. */
  readonly path: string;
  /**
   * Settles with `ready`: resolved once the gate is open (the line written), rejected with
   * `ready`'s reason (the gate stays shut: stop the shell).
   */
  readonly opened: Promise<void>;
  /** Closes Node's end and returns the FIFO to the pool; call once the shell has exited. */
  close(): Promise<void>;
}

/** Takes a gate from the pool that opens when `ready` resolves. */
export async function openGate(ready: Promise<void>): Promise<Gate> {
  const path = await takeFifo();
  // Read-write: never blocks (Linux), and keeps the pipe alive until the shell has read the line.
  const fh = await open(path, constants.O_RDWR | constants.O_NONBLOCK);
  const opened = ready.then(async () => {
    await fh.write("open\n");
  });
  opened.catch(() => undefined);
  let closed = false;
  return {
    path,
    opened,
    close: async () => {
      if (closed) return;
      closed = true;
      await fh.close();
      // Unread bytes went with the last open end: the FIFO is empty for its next user.
      free.push(path);
    },
  };
}

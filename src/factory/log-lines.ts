/**
 * Log lines gathered and written in batches. A busy factory logs a line per request, and a write
 * per line is a system call per request (writes to files and pipes are synchronous in Node): at
 * tens of thousands of requests a second that was a fifth of a schematic create's CPU. Lines keep
 * their order and are written within `maxDelayMs` of the first one pending, at once when the
 * next line would not fit in `maxPending` bytes, and before the process exits (a SIGKILL loses at
 * most the last `maxDelayMs`).
 *
 * Each line is encoded into the batch's buffer as it arrives: one copy per line, and the batch
 * goes to `write` as bytes (joining strings instead copied every line twice more, to flatten it
 * and to encode the joined text).
 */
export function batchedLines(
  write: (batch: Buffer) => void,
  maxPending = 64 * 1024,
  maxDelayMs = 50,
): (line: string) => void {
  let buf = Buffer.allocUnsafe(maxPending);
  let used = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (used === 0) return;
    // A fresh buffer per batch: `write` may keep the one it was given.
    const batch = buf.subarray(0, used);
    buf = Buffer.allocUnsafe(maxPending);
    used = 0;
    write(batch);
  };
  process.on("exit", flush);
  return (line) => {
    // A UTF-16 unit encodes to at most 3 bytes: only a line that might not fit is measured.
    if (line.length * 3 > maxPending - used) {
      const bytes = Buffer.byteLength(line);
      if (bytes > maxPending - used) {
        flush();
        if (bytes > maxPending) {
          write(Buffer.from(line));
          return;
        }
      }
    }
    used += buf.write(line, used);
    if (timer === undefined) {
      timer = setTimeout(flush, maxDelayMs);
      // Pending lines alone do not keep the process alive: the exit hook writes them.
      timer.unref();
    }
  };
}

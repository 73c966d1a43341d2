/**
 * Log lines gathered and written in batches. A busy factory logs a line per request, and a write
 * per line is a system call per request (writes to files and pipes are synchronous in Node): at
 * tens of thousands of requests a second that was a fifth of a schematic create's CPU. Lines keep
 * their order and are written within `maxDelayMs` of the first one pending, at once when
 * `maxPending` characters gather, and before the process exits (a SIGKILL loses at most the
 * last `maxDelayMs`).
 */
export function batchedLines(
  write: (text: string) => void,
  maxPending = 64 * 1024,
  maxDelayMs = 50,
): (line: string) => void {
  let pending: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const text = pending.join("");
    pending = [];
    size = 0;
    write(text);
  };
  process.on("exit", flush);
  return (line) => {
    pending.push(line);
    size += line.length;
    if (size >= maxPending) flush();
    else if (timer === undefined) {
      timer = setTimeout(flush, maxDelayMs);
      // Pending lines alone do not keep the process alive: the exit hook writes them.
      timer.unref();
    }
  };
}

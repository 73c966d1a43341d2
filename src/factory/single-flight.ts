/**
 * Collapses concurrent calls with the same key into one execution: identical requests
 * (the same asset, the same installer image) build once, and every caller gets the result.
 */
export class SingleFlight<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Runs `fn` unless a call with `key` is already running, in which case its result is shared. */
  do(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key);
    if (running !== undefined) return running;
    const p = (async () => {
      try {
        return await fn();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, p);
    return p;
  }

  /** Number of distinct keys currently running. */
  get size(): number {
    return this.inflight.size;
  }
}

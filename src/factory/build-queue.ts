/**
 * A bounded work queue: at most `concurrency` jobs run, at most `maxWaiting` wait; beyond that
 * callers get an `unavailable` error carrying a retry hint, so overload turns into 503 +
 * Retry-After instead of unbounded memory and latency.
 */
import { BootforgeError } from "../errors/index.js";

export interface BuildQueueOptions {
  concurrency: number;
  maxWaiting: number;
  /** Seconds suggested to clients in Retry-After when the queue is full. */
  retryAfterSeconds?: number;
}

/** Error raised when the queue is full; `retryAfter` is in seconds. */
export class QueueFullError extends BootforgeError {
  readonly retryAfter: number;
  constructor(retryAfter: number) {
    super("unavailable", "build queue is full, retry later");
    this.retryAfter = retryAfter;
  }
}

export class BuildQueue {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly opts: Required<BuildQueueOptions>;

  constructor(opts: BuildQueueOptions) {
    if (!(opts.concurrency >= 1) || !(opts.maxWaiting >= 0)) {
      throw new BootforgeError("invalid-input", "build queue needs concurrency >= 1 and maxWaiting >= 0");
    }
    this.opts = { retryAfterSeconds: 5, ...opts };
  }

  /** Runs `job` when a slot is free; rejects at once with QueueFullError when too many wait. */
  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.running >= this.opts.concurrency) {
      if (this.waiting.length >= this.opts.maxWaiting) throw new QueueFullError(this.opts.retryAfterSeconds);
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        };
        const onAbort = () => {
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(new BootforgeError("unavailable", "request cancelled while waiting for a build slot"));
        };
        signal?.addEventListener("abort", onAbort, { once: true });
        this.waiting.push(wake);
      });
    } else {
      this.running++;
    }
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter so `running` never dips and lets a newcomer jump the queue.
      if (next !== undefined) next();
      else this.running--;
    }
  }

  /** Jobs running now. */
  get active(): number {
    return this.running;
  }

  /** Jobs waiting for a slot. */
  get pending(): number {
    return this.waiting.length;
  }
}

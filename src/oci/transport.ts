/**
 * HTTP for registries on the global fetch: bounded retries with backoff on 429/5xx and connection
 * failures, a header timeout, an idle timeout on bodies (a stalled download fails instead of
 * hanging), and caller cancellation through an AbortSignal.
 */
import { Readable, Transform, type TransformCallback } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { setTimeout as sleep } from "node:timers/promises";
import { BootforgeError } from "../errors/index.js";

/** Knobs shared by every request a client makes. */
export interface TransportOptions {
  /** The fetch implementation (tests may wrap it); defaults to the global one. */
  fetch?: typeof fetch;
  /** Milliseconds to wait for response headers (default 30 s). */
  timeoutMs?: number;
  /** Milliseconds a response body may stall before it fails (default 60 s). */
  idleTimeoutMs?: number;
  /** Retries after the first attempt for retryable failures (default 4). */
  retries?: number;
  /** First backoff delay in ms, doubled per retry with jitter (default 250). */
  backoffMs?: number;
  /** Upper bound of one backoff delay, also caps Retry-After (default 8 s). */
  maxBackoffMs?: number;
  /** Cancels every request and body read of the client. */
  signal?: AbortSignal;
  /** User-Agent header. */
  userAgent?: string;
}

/** One HTTP request; a body is either replayable bytes or a one-shot stream (never retried). */
export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string | AsyncIterable<Uint8Array>;
  /** Follow redirects here (`follow`) or hand 3xx back (`manual`). */
  redirect?: "follow" | "manual";
  signal?: AbortSignal;
}

/** A response whose body is read at most once, as a stream or as bounded bytes. */
export interface HttpResponse {
  status: number;
  headers: Headers;
  url: string;
  /** The body as a Node stream with the idle timeout applied. */
  stream(): Readable;
  /** The whole body, failing with `too-large` beyond `limit` bytes. */
  bytes(limit?: number): Promise<Buffer>;
  /** Releases the connection without reading the body. */
  discard(): Promise<void>;
}

const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const DEFAULT_BYTES_LIMIT = 16 << 20;

/** The retrying, timing-out HTTP layer registries are spoken to through. */
export class Transport {
  readonly #opts: Required<Omit<TransportOptions, "signal" | "fetch">> &
    Pick<TransportOptions, "signal" | "fetch">;

  constructor(opts: TransportOptions = {}) {
    this.#opts = {
      fetch: opts.fetch,
      signal: opts.signal,
      timeoutMs: opts.timeoutMs ?? 30_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 60_000,
      retries: opts.retries ?? 4,
      backoffMs: opts.backoffMs ?? 250,
      maxBackoffMs: opts.maxBackoffMs ?? 8_000,
      userAgent: opts.userAgent ?? "bootforge",
    };
  }

  /** Sends `req`, retrying retryable failures when the body can be replayed. */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const replayable =
      req.body === undefined || typeof req.body === "string" || req.body instanceof Uint8Array;
    const max = replayable ? this.#opts.retries : 0;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.#once(req);
      } catch (e) {
        if (attempt < max && isRetryableError(e) && !this.#aborted(req)) {
          await this.#backoff(attempt, undefined, req);
          continue;
        }
        throw e;
      }
      if (RETRY_STATUS.has(res.status) && attempt < max) {
        const retryAfter = res.headers.get("retry-after");
        await res.discard();
        await this.#backoff(attempt, retryAfter, req);
        continue;
      }
      return res;
    }
  }

  #aborted(req: HttpRequest): boolean {
    return Boolean(this.#opts.signal?.aborted || req.signal?.aborted);
  }

  async #backoff(attempt: number, retryAfter: string | null | undefined, req: HttpRequest): Promise<void> {
    let delay = Math.min(this.#opts.maxBackoffMs, this.#opts.backoffMs * 2 ** attempt);
    delay = delay / 2 + Math.random() * (delay / 2);
    const ra = retryAfter ? Number(retryAfter) : NaN;
    if (Number.isFinite(ra) && ra >= 0) delay = Math.min(this.#opts.maxBackoffMs, ra * 1000);
    const signals = [this.#opts.signal, req.signal].filter((s): s is AbortSignal => s !== undefined);
    try {
      await sleep(delay, undefined, signals.length ? { signal: AbortSignal.any(signals) } : {});
    } catch {
      throw cancelled(req);
    }
  }

  async #once(req: HttpRequest): Promise<HttpResponse> {
    const ctrl = new AbortController();
    const external = [this.#opts.signal, req.signal].filter((s): s is AbortSignal => s !== undefined);
    for (const s of external) if (s.aborted) throw cancelled(req);
    const onAbort = () => ctrl.abort(cancelled(req));
    for (const s of external) s.addEventListener("abort", onAbort, { once: true });
    const unlink = () => {
      for (const s of external) s.removeEventListener("abort", onAbort);
    };
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort(
        new BootforgeError(
          "unavailable",
          `${req.method} ${safeUrl(req.url)}: no response within ${this.#opts.timeoutMs} ms`,
        ),
      );
    }, this.#opts.timeoutMs);
    const headers: Record<string, string> = { "user-agent": this.#opts.userAgent, ...req.headers };
    let body: RequestInit["body"];
    const bodyError: { error?: Error } = {};
    if (req.body === undefined || typeof req.body === "string" || req.body instanceof Uint8Array) {
      body = req.body;
    } else {
      body = toWebStream(req.body, bodyError);
    }
    let res: Response;
    try {
      const f = this.#opts.fetch ?? fetch;
      res = await f(req.url, {
        method: req.method,
        headers,
        body,
        redirect: req.redirect ?? "follow",
        signal: ctrl.signal,
        // Streaming request bodies need half duplex on Node's fetch (not yet in the DOM types).
        ...(body !== undefined && typeof body === "object" && !(body instanceof Uint8Array)
          ? { duplex: "half" }
          : {}),
      });
    } catch (e) {
      unlink();
      // A failing request body (e.g. the upload's digest check) is the real cause, not the network.
      if (bodyError.error !== undefined) throw bodyError.error;
      if (ctrl.signal.reason instanceof BootforgeError) throw ctrl.signal.reason;
      throw new BootforgeError(
        "unavailable",
        `${req.method} ${safeUrl(req.url)}: ${timedOut ? "timed out" : networkReason(e)}`,
        { cause: e },
      );
    } finally {
      clearTimeout(timer);
    }
    const idleMs = this.#opts.idleTimeoutMs;
    let used = false;
    const what = `${req.method} ${safeUrl(req.url)}`;
    const stream = (): Readable => {
      if (used) throw new BootforgeError("internal", "response body read twice");
      used = true;
      if (!res.body) {
        unlink();
        return Readable.from([]);
      }
      const src = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      const watch = new IdleWatch(idleMs, () => {
        ctrl.abort(new BootforgeError("unavailable", `${what}: body stalled for ${idleMs} ms`));
      });
      src.on("error", (e) => {
        unlink();
        const reason: unknown = ctrl.signal.reason;
        watch.destroy(
          reason instanceof BootforgeError
            ? reason
            : new BootforgeError("unavailable", `${what}: body read failed: ${networkReason(e)}`, {
                cause: e,
              }),
        );
      });
      src.on("end", unlink);
      watch.on("close", () => {
        if (!src.destroyed) src.destroy();
      });
      return src.pipe(watch);
    };
    return {
      status: res.status,
      headers: res.headers,
      url: res.url || req.url,
      stream,
      async bytes(limit = DEFAULT_BYTES_LIMIT) {
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of stream()) {
          const b = c as Buffer;
          n += b.length;
          if (n > limit)
            throw new BootforgeError("too-large", `${what}: response larger than ${limit} bytes`);
          chunks.push(b);
        }
        return Buffer.concat(chunks);
      },
      async discard() {
        unlink();
        if (!used && res.body) {
          used = true;
          await res.body.cancel().catch(() => undefined);
        }
      },
    };
  }
}

/** Restarts a timer on every chunk; fires when the body makes no progress. */
class IdleWatch extends Transform {
  #timer: NodeJS.Timeout;
  readonly #ms: number;
  readonly #fire: () => void;
  constructor(ms: number, fire: () => void) {
    super();
    this.#ms = ms;
    this.#fire = fire;
    this.#timer = setTimeout(fire, ms);
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, cb: TransformCallback): void {
    this.#timer.refresh();
    cb(null, chunk);
  }
  override _flush(cb: TransformCallback): void {
    clearTimeout(this.#timer);
    cb();
  }
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    clearTimeout(this.#timer);
    void this.#fire;
    cb(err);
  }
  /** Milliseconds of allowed silence. */
  get idleMs(): number {
    return this.#ms;
  }
}

/** A pull-based web stream over an async iterable, so request bodies respect backpressure. */
function toWebStream(
  src: AsyncIterable<Uint8Array>,
  failure: { error?: unknown },
): ReadableStream<Uint8Array> {
  const it = src[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        try {
          const r: IteratorResult<Uint8Array> = await it.next();
          if (r.done) ctrl.close();
          else ctrl.enqueue(r.value);
        } catch (e) {
          failure.error = e instanceof Error ? e : new Error(String(e));
          throw e;
        }
      },
      async cancel() {
        await it.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

function cancelled(req: HttpRequest): BootforgeError {
  return new BootforgeError("unavailable", `${req.method} ${safeUrl(req.url)}: cancelled`);
}

function isRetryableError(e: unknown): boolean {
  // Timeouts and resets are worth another try; explicit cancellation is not.
  return e instanceof BootforgeError && e.kind === "unavailable" && !e.message.endsWith(": cancelled");
}

function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  if (cause?.code) return `connection failed (${cause.code})`;
  if (cause?.message) return cause.message;
  return e instanceof Error ? e.message : String(e);
}

/** A URL with any userinfo and query string removed, safe for messages (queries can carry tokens). */
export function safeUrl(u: string): string {
  try {
    const url = new URL(u);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return "(invalid url)";
  }
}

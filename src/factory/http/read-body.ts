/** Reads a request body up to a limit, so oversized uploads are refused without buffering them. */
import type { IncomingMessage } from "node:http";
import { BootforgeError } from "../../errors/index.js";

/**
 * The body bytes; a body over `limit` bytes is a `too-large` error (HTTP 413). When the request
 * came through the Node server, pass its `incoming` message: reading that directly skips the
 * Web `Request` body stream (undici `Request` construction and a promise per chunk), which cost
 * a POST about two thirds of its throughput.
 */
export async function readBodyLimited(
  req: Request,
  limit: number,
  what: string,
  incoming?: IncomingMessage,
): Promise<Buffer> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  const tooLarge = () => new BootforgeError("too-large", `${what} is larger than ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  // Only an untouched message can be read here; otherwise the Web body is the one source of truth.
  if (incoming !== undefined && !incoming.readableDidRead && !req.bodyUsed) {
    return readIncoming(incoming, limit, tooLarge);
  }
  if (req.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = req.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

/** {@link collectIncoming} as a promise. */
function readIncoming(incoming: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) =>
    collectIncoming(incoming, limit, tooLarge, resolve, reject),
  );
}

/**
 * Collects `incoming` up to `limit` bytes, then calls `done` with them, or `failed` once: over
 * the limit it stops reading (the rest is drained after the response, as @hono/node-server drains
 * an unread Web body) with `tooLarge()`; an error or a connection closed early fails too.
 * Callbacks rather than a promise, so the fast path can answer in the body's `end` event.
 */
export function collectIncoming(
  incoming: IncomingMessage,
  limit: number,
  tooLarge: () => Error,
  done: (body: Buffer) => void,
  failed: (e: unknown) => void,
): void {
  if (incoming.readableEnded) return done(Buffer.alloc(0));
  // A message destroyed before we got here will emit nothing more: fail now instead of hanging.
  if (incoming.destroyed) {
    return failed(incoming.errored ?? new Error("client closed the connection before the body ended"));
  }
  new BodyCollector(incoming, limit, tooLarge, done, failed).start();
}

/**
 * The listeners of {@link collectIncoming} as bound prototype methods rather than per-call arrow
 * functions: this runs for every create, and named closures cost more than they look (tsx's
 * keep-names helper redefines each one's `name`).
 */
class BodyCollector {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  readonly onData: (chunk: Buffer) => void;
  readonly onEnd: () => void;
  readonly onError: (e: Error) => void;
  readonly onClose: () => void;

  constructor(
    readonly incoming: IncomingMessage,
    readonly limit: number,
    readonly tooLarge: () => Error,
    readonly resolve: (b: Buffer) => void,
    readonly reject: (e: unknown) => void,
  ) {
    this.onData = this.data.bind(this);
    this.onEnd = this.end.bind(this);
    this.onError = this.error.bind(this);
    this.onClose = this.close.bind(this);
  }

  start(): void {
    this.incoming.on("data", this.onData);
    this.incoming.on("end", this.onEnd);
    this.incoming.on("error", this.onError);
    this.incoming.on("close", this.onClose);
  }

  #stop(): void {
    this.incoming.off("data", this.onData);
    this.incoming.off("end", this.onEnd);
    this.incoming.off("error", this.onError);
    this.incoming.off("close", this.onClose);
  }

  data(chunk: Buffer): void {
    this.#size += chunk.length;
    if (this.#size > this.limit) {
      this.incoming.pause();
      this.#stop();
      this.reject(this.tooLarge());
      return;
    }
    this.#chunks.push(chunk);
  }

  end(): void {
    this.#stop();
    const c = this.#chunks;
    this.resolve(c.length === 1 ? c[0]! : Buffer.concat(c, this.#size));
  }

  error(e: Error): void {
    this.#stop();
    this.reject(e);
  }

  close(): void {
    this.#stop();
    this.reject(new Error("client closed the connection before the body ended"));
  }
}

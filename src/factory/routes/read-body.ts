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

/**
 * Collects `incoming` up to `limit` bytes. Over the limit it stops reading (the rest is drained
 * by @hono/node-server after the response, as for an unread Web body) and rejects.
 */
function readIncoming(incoming: IncomingMessage, limit: number, tooLarge: () => Error): Promise<Buffer> {
  if (incoming.readableEnded) return Promise.resolve(Buffer.alloc(0));
  // A message destroyed before we got here will emit nothing more: fail now instead of hanging.
  if (incoming.destroyed) {
    return Promise.reject(
      incoming.errored ?? new Error("client closed the connection before the body ended"),
    );
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (settle: () => void) => {
      incoming.off("data", onData);
      incoming.off("end", onEnd);
      incoming.off("error", onError);
      incoming.off("close", onClose);
      settle();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        incoming.pause();
        done(() => reject(tooLarge()));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(() => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    const onError = (e: Error) => done(() => reject(e));
    const onClose = () => done(() => reject(new Error("client closed the connection before the body ended")));
    incoming.on("data", onData);
    incoming.on("end", onEnd);
    incoming.on("error", onError);
    incoming.on("close", onClose);
  });
}

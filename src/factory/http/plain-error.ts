/**
 * Errors are answered as upstream does: plain text, the message plus a newline, with
 * `X-Content-Type-Options: nosniff`; the status comes from the error's kind.
 */
import { BootforgeError, isBootforgeError } from "../../errors/index.js";
import { QueueFullError } from "../build-queue.js";

/** A plain-text error response with the upstream shape. */
export function plainError(status: number, message: string, headers: Record<string, string> = {}): Response {
  return new Response(`${message}\n`, {
    status,
    headers: { "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff", ...headers },
  });
}

/** Maps any thrown value to a response; unknown errors become a 500 without internals. */
export function errorResponse(e: unknown, log?: (e: unknown) => void): Response {
  if (e instanceof QueueFullError) return plainError(503, e.message, { "Retry-After": String(e.retryAfter) });
  if (isBootforgeError(e)) {
    // Some factory errors answer a status their kind does not imply (e.g. 501 for unbuilt kinds).
    const override = (e as { httpStatusOverride?: unknown }).httpStatusOverride;
    const status = typeof override === "number" ? override : e.httpStatus;
    if (status >= 500 && status !== 501) log?.(e);
    return plainError(status, e.message);
  }
  log?.(e);
  return plainError(500, "internal server error");
}

export { BootforgeError };

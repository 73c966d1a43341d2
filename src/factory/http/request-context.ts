/**
 * Headers every response carries, as upstream: `Server: Image Factory <version>` (clients and the
 * upstream test-suite look for "Image Factory") and an `X-Request-ID`, echoed or generated.
 */
import { randomUUID } from "node:crypto";
import type { MiddlewareHandler } from "hono";

/** Client-supplied request IDs are echoed only when they match this. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ids = new WeakMap<Request, string>();

/** The request ID assigned to a request (for logs), if it went through {@link requestContext}. */
export function requestIdOf(req: Request): string | undefined {
  return ids.get(req);
}

/** The `Server` header value. */
export function serverHeader(serverVersion: string): string {
  return `Image Factory ${serverVersion} (Bootforge)`;
}

/** Adds the Server and X-Request-ID headers. */
export function requestContext(serverVersion: string): MiddlewareHandler {
  const server = serverHeader(serverVersion);
  return async (c, next) => {
    const given = c.req.header("x-request-id");
    const id = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    ids.set(c.req.raw, id);
    await next();
    c.res.headers.set("Server", server);
    c.res.headers.set("X-Request-ID", id);
  };
}

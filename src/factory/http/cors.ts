/**
 * CORS with the semantics of the upstream factory's `rs/cors` setup: allowed origins (default `*`),
 * methods HEAD/GET/OPTIONS, the `Cache-Control` request header, and the three download headers
 * exposed so browser clients can read file names and sizes.
 */
import type { MiddlewareHandler } from "hono";

const ALLOWED_METHODS = new Set(["HEAD", "GET", "OPTIONS", "POST"]);
const ALLOWED_HEADERS = new Set(["cache-control", "content-type"]);
/** `Access-Control-Expose-Headers` of every non-preflight response with an allowed origin. */
export const EXPOSED_HEADERS = "Content-Disposition, Content-Length, Content-Type";

/** The `Access-Control-Allow-Origin` value for a request's `Origin`, or undefined (not allowed). */
export type AllowOrigin = (origin: string | undefined) => string | undefined;

/** The origin check for `origins` (which may contain `*`). */
export function allowOriginOf(origins: readonly string[]): AllowOrigin {
  const any = origins.includes("*");
  const allowed = new Set(origins.map((o) => o.toLowerCase()));
  return (origin) => {
    if (origin === undefined) return undefined;
    if (any) return "*";
    return allowed.has(origin.toLowerCase()) ? origin : undefined;
  };
}

/** CORS middleware; `origins` may contain `*`. */
export function cors(origins: readonly string[] | AllowOrigin): MiddlewareHandler {
  const allowOrigin = typeof origins === "function" ? origins : allowOriginOf(origins);

  return async (c, next) => {
    const origin = c.req.header("origin");
    const requestedMethod = c.req.header("access-control-request-method");
    if (c.req.method === "OPTIONS" && requestedMethod !== undefined) {
      c.header("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
      const o = allowOrigin(origin);
      const method = requestedMethod.toUpperCase();
      const reqHeaders = (c.req.header("access-control-request-headers") ?? "")
        .split(",")
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== "");
      if (
        o === undefined ||
        !ALLOWED_METHODS.has(method) ||
        !reqHeaders.every((h) => ALLOWED_HEADERS.has(h))
      ) {
        return c.body(null, 204);
      }
      c.header("Access-Control-Allow-Origin", o);
      c.header("Access-Control-Allow-Methods", method);
      if (reqHeaders.length > 0) c.header("Access-Control-Allow-Headers", reqHeaders.join(", "));
      return c.body(null, 204);
    }
    await next();
    c.res.headers.append("Vary", "Origin");
    const o = allowOrigin(origin);
    if (o !== undefined) {
      c.res.headers.set("Access-Control-Allow-Origin", o);
      c.res.headers.set("Access-Control-Expose-Headers", EXPOSED_HEADERS);
    }
  };
}

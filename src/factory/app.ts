/**
 * The factory's HTTP application. Routes are registered by feature modules (schematics, images,
 * PXE, registry, UI); this file wires the cross-cutting behaviour: upstream headers, CORS,
 * plain-text errors, 404/405 as upstream's router answers them.
 */
import { ServerResponse, type RequestListener } from "node:http";
import { Hono } from "hono";
import type { HttpBindings } from "@hono/node-server";
import { RESPONSE_ALREADY_SENT } from "@hono/node-server/utils/response";
import { allowOriginOf, cors } from "./http/cors.js";
import { FastPaths } from "./http/fast-path.js";
import { errorResponse, plainError } from "./http/plain-error.js";
import { requestContext } from "./http/request-context.js";
import { sendTaggedFile } from "./http/serve-object.js";

export type FactoryEnv = { Bindings: HttpBindings };
export type FactoryApp = Hono<FactoryEnv>;

export interface AppOptions {
  serverVersion: string;
  allowedOrigins: readonly string[];
  /** Readiness probe: resolves true once the release source answers. */
  ready?: () => Promise<boolean>;
  log?: (e: unknown) => void;
}

/** A route module adds its routes to the app. */
export type RouteModule = (app: FactoryApp) => void;

const fastPaths = new WeakMap<FactoryApp, FastPaths>();

/** The app's fast routes (see `http/fast-path.ts`); route modules add theirs here. */
export function fastPathsOf(app: FactoryApp): FastPaths | undefined {
  return fastPaths.get(app);
}

/**
 * The Node request listener for `app`: requests a fast route takes are answered here, every
 * other one goes to `next` (@hono/node-server's listener for `app.fetch`). `enabled: false`
 * sends everything through Hono (tests compare the two paths).
 */
export function withFastPaths(app: FactoryApp, next: RequestListener, enabled = true): RequestListener {
  const fast = fastPaths.get(app);
  if (fast === undefined || !enabled) return next;
  return (incoming, outgoing) => {
    const route = fast.match(incoming);
    if (route === undefined) {
      void next(incoming, outgoing);
      return;
    }
    // `serve` answers errors itself, the route's and the body's.
    fast.serve(route, incoming, outgoing);
  };
}

/** Builds the application with the given route modules. */
export function createApp(opts: AppOptions, modules: readonly RouteModule[] = []): FactoryApp {
  const app = new Hono<FactoryEnv>();
  const allowOrigin = allowOriginOf(opts.allowedOrigins);
  fastPaths.set(app, new FastPaths(opts.serverVersion, allowOrigin, opts.log));
  app.use("*", requestContext(opts.serverVersion));
  app.use("*", cors(allowOrigin));

  app.on(["GET", "HEAD"], "/healthz", (c) => c.body(null, 200));
  app.on(["GET", "HEAD"], "/readyz", async (c) => {
    const ok = opts.ready === undefined || (await opts.ready());
    return ok ? c.body(null, 200) : plainError(503, "not ready");
  });

  for (const m of modules) m(app);

  app.notFound(() => plainError(404, "404 page not found"));
  app.onError((e) => errorResponse(e, opts.log));

  // File downloads leave the Web-stream path here, after every middleware has set its headers
  // and the access log has seen the status: the response is final, so writing it to the Node
  // socket ourselves changes nothing on the wire but the speed (see `sendTaggedFile`).
  const dispatch = app.fetch;
  app.fetch = (request, env?: Partial<HttpBindings>, ctx?) => {
    const res = dispatch(request, env, ctx);
    const outgoing = env?.outgoing;
    if (!(outgoing instanceof ServerResponse) || !(res instanceof Promise)) return res;
    return res.then((r) => (sendTaggedFile(r, outgoing) ? RESPONSE_ALREADY_SENT : r));
  };
  return app;
}

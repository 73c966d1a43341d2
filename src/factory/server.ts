/**
 * Runs a factory on a socket: listen, report the bound address, and shut down gracefully
 * (stop accepting, let in-flight requests finish within a grace period, then close).
 */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { createServer, type RequestListener, type Server, type ServerOptions } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { withFastPaths, type FactoryApp } from "./app.js";
import { splitListen } from "./config.js";
import type { ReloadingKeyPair } from "./http/reloading-tls.js";
import type { FactoryMetrics } from "./metrics.js";

/** A listening factory. */
export interface RunningServer {
  /** `http://host:port` actually bound (port 0 resolved). */
  url: string;
  port: number;
  /** Stops accepting connections and waits for in-flight requests (up to `graceMs`). */
  close(graceMs?: number): Promise<void>;
}

const boundHooks = new WeakMap<FactoryApp, (url: string) => void>();

/** Registers what to do once `app` is bound (e.g. fill in URLs that named port 0). */
export function onBound(app: FactoryApp, hook: (url: string) => void): void {
  boundHooks.set(app, hook);
}

/**
 * Connection limits of every factory server. Long builds stream large bodies: no request timeout,
 * but idle keep-alive sockets are reaped. Reaping races a client that reuses the socket at that
 * moment (its request meets a reset): Node's own agent keeps idle sockets forever, so the window
 * is made rare rather than frequent — 65 s, longer than the idle timeouts of common clients and
 * proxies (nginx 60 s).
 */
export function applyConnectionSettings(http: Server): void {
  http.requestTimeout = 0;
  http.keepAliveTimeout = 65_000;
  http.headersTimeout = 66_000;
}

/**
 * Listens on `listen` (`host:port`; port 0 picks a free one); HTTPS with `tls` (its pair is
 * reloaded when the files change).
 */
export async function listen(
  app: FactoryApp,
  listenAddr: string,
  tls?: ReloadingKeyPair,
): Promise<RunningServer> {
  const [host, port] = splitListen(listenAddr);
  const server: ServerType = await new Promise((resolve, reject) => {
    // Hot small routes are answered before Hono (same bytes on the wire, a third of the CPU).
    const fastServer = (options: ServerOptions, listener: RequestListener) => {
      if (tls === undefined) return createServer(options, withFastPaths(app, listener));
      const https = createHttpsServer({ ...options, ...tls.current }, withFastPaths(app, listener));
      tls.attach(https);
      return https;
    };
    const s = serve(
      { fetch: app.fetch, hostname: host, port, createServer: fastServer as typeof createServer },
      () => resolve(s),
    );
    s.once("error", reject);
  });
  const http = server as Server;
  applyConnectionSettings(http);
  const addr = http.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `${tls ? "https" : "http"}://${shownHost}:${addr.port}`;
  boundHooks.get(app)?.(url);
  return closable(http, url, addr.port);
}

function closable(http: Server | HttpsServer, url: string, port: number): RunningServer {
  return {
    url,
    port,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => http.closeAllConnections(), graceMs);
        http.close(() => {
          clearTimeout(timer);
          resolve();
        });
        http.closeIdleConnections();
      }),
  };
}

/**
 * Serves `GET /metrics` alone on its own address (`metrics.addr`), as upstream's metrics
 * listener does; every other path is 404.
 */
export async function listenMetrics(metrics: FactoryMetrics, listenAddr: string): Promise<RunningServer> {
  const [host, port] = splitListen(listenAddr);
  const http = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("404 page not found\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    const body = metrics.render();
    res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  applyConnectionSettings(http);
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => resolve());
  });
  const addr = http.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return closable(http, `http://${shownHost}:${addr.port}`, addr.port);
}

/**
 * Runs a factory on a socket: listen, report the bound address, and shut down gracefully
 * (stop accepting, let in-flight requests finish within a grace period, then close).
 */
import { serve, type ServerType } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import { createServer, type RequestListener, type Server, type ServerOptions } from "node:http";
import { withFastPaths, type FactoryApp } from "./app.js";
import { splitListen } from "./config.js";

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

/** Listens on `listen` (`host:port`; port 0 picks a free one). */
export async function listen(app: FactoryApp, listenAddr: string): Promise<RunningServer> {
  const [host, port] = splitListen(listenAddr);
  const server: ServerType = await new Promise((resolve, reject) => {
    // Hot small routes are answered before Hono (same bytes on the wire, a third of the CPU).
    const fastServer = (options: ServerOptions, listener: RequestListener) =>
      createServer(options, withFastPaths(app, listener));
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
  const url = `http://${shownHost}:${addr.port}`;
  boundHooks.get(app)?.(url);
  return {
    url,
    port: addr.port,
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

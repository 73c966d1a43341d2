/** Serves the factory app with the UI on 127.0.0.1 and an OS-chosen port, for browser tests. */
import type { AddressInfo } from "node:net";
import { serve, type ServerType } from "@hono/node-server";
import { createApp } from "../../src/factory/app.js";
import { uiRoutes } from "../../src/factory/ui/index.js";
import { TestBackend } from "./test-backend.js";

/** A running test server. */
export interface UiServer {
  readonly url: string;
  readonly backend: TestBackend;
  close(): Promise<void>;
}

/** Starts the app on loopback; the backend's external URLs point at it. */
export async function startUiServer(): Promise<UiServer> {
  const backend = new TestBackend();
  const app = createApp({ serverVersion: backend.serverVersion, allowedOrigins: ["*"] }, [uiRoutes(backend)]);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  backend.externalURL = url;
  // A different host name for PXE, as upstream's integration harness does (localhost vs 127.0.0.1).
  backend.externalPXEURL = `http://localhost:${port}`;
  return {
    url,
    backend,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

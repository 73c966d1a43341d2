/** Access log and request-duration metric for every request (registered before other routes). */
import type { RouteModule } from "../app.js";
import { requestIdOf } from "../http/request-context.js";
import type { Logger } from "../logger.js";
import type { FactoryMetrics } from "../metrics.js";

/** Logs each request as JSON and observes its duration by feature. */
export function accessLog(logger: Logger, metrics: FactoryMetrics): RouteModule {
  return (app) => {
    app.use("*", async (c, next) => {
      const started = performance.now();
      await next();
      const seconds = (performance.now() - started) / 1000;
      const status = c.res.status;
      // The first path segment names the feature without unbounded label values.
      const route = `/${c.req.path.split("/")[1] ?? ""}`;
      metrics.requests.observe(seconds, { handler: route, code: String(status) });
      logger.log(status >= 500 ? "error" : "info", "request", {
        requestId: requestIdOf(c.req.raw),
        method: c.req.method,
        path: c.req.path,
        status,
        durationMs: Math.round(seconds * 1000),
      });
    });
  };
}

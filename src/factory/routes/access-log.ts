/** Access log and request-duration metric for every request (registered before other routes). */
import { fastPathsOf, type RouteModule } from "../app.js";
import type { RequestRecord } from "../http/fast-path.js";
import { requestIdOf } from "../http/request-context.js";
import type { Logger } from "../logger.js";
import type { FactoryMetrics } from "../metrics.js";

/** Logs each request as JSON and observes its duration by feature, on both request paths. */
export function accessLog(logger: Logger, metrics: FactoryMetrics): RouteModule {
  return (app) => {
    const record = recorder(logger, metrics);
    fastPathsOf(app)?.observe(record);
    app.use("*", async (c, next) => {
      const started = performance.now();
      await next();
      record({
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        seconds: (performance.now() - started) / 1000,
        requestId: requestIdOf(c.req.raw),
      });
    });
  };
}

/** One log line and one metric observation per finished request. */
function recorder(logger: Logger, metrics: FactoryMetrics): (r: RequestRecord) => void {
  // Busy traffic repeats one path and status: the last metric series is kept for the next.
  let lastPath = "";
  let lastStatus = -1;
  let lastSeries: (seconds: number) => void = () => undefined;
  return (r) => {
    if (r.path !== lastPath || r.status !== lastStatus) {
      // The first path segment names the feature without unbounded label values.
      const slash = r.path.indexOf("/", 1);
      const route = slash < 0 ? r.path : r.path.slice(0, slash);
      lastSeries = metrics.requests.series({ handler: route || "/", code: String(r.status) });
      lastPath = r.path;
      lastStatus = r.status;
    }
    lastSeries(r.seconds);
    logger.log(r.status >= 500 ? "error" : "info", "request", {
      requestId: r.requestId,
      method: r.method,
      path: r.path,
      status: r.status,
      durationMs: Math.round(r.seconds * 1000),
    });
  };
}

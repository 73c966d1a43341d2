/** `GET /secureboot/signing-cert.pem`, `/metrics` and the Enterprise-only routes (404 in OSS). */
import { BootforgeError } from "../../errors/index.js";
import type { RouteModule } from "../app.js";
import type { FactoryServices } from "../services.js";

/** SecureBoot certificate export. */
export function secureBootRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.get("/secureboot/signing-cert.pem", (c) => {
      // Upstream answers an untagged error (500) when SecureBoot is disabled.
      if (s.secureBootCertPem === undefined) throw new BootforgeError("internal", "secure boot is disabled");
      return c.body(s.secureBootCertPem, 200, { "Content-Type": "application/x-pem-file" });
    });
  };
}

/** Prometheus metrics in the text exposition format. */
export function metricsRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.get("/metrics", (c) =>
      c.body(s.metrics.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    );
  };
}

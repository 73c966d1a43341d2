/** `GET /oci/cosign/signing-key.pub`: the public key of the cache and installer signatures. */
import type { RouteModule } from "../app.js";
import { plainError } from "../http/plain-error.js";
import type { FactoryServices } from "../services.js";

/** Cosign public key export. */
export function cosignRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.get("/oci/cosign/signing-key.pub", (c) => {
      // Upstream always has a key (it is required there); without one there is nothing to serve.
      if (s.cosignPublicKeyPem === undefined) return plainError(404, "cache signing is not configured");
      return c.body(s.cosignPublicKeyPem, 200, { "Content-Type": "application/x-pem-file" });
    });
  };
}

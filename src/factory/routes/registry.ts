/**
 * The OCI distribution front end under `/v2`: the ping, per-schematic installer images
 * (`<image>/<schematic>:<version|latest>`, built on first pull and served by digest from the
 * embedded registry) and the `siderolabs/*` image proxy to the release source. Errors are
 * plain text, as upstream's.
 */
import { BootforgeError } from "../../errors/index.js";
import { isDigest } from "../../oci/digest.js";
import { parseInstallerImageName, routeV2 } from "../../profile/index.js";
import { latestStable } from "../../release/versions.js";
import type { RouteModule } from "../app.js";
import { plainError } from "../http/plain-error.js";
import type { FactoryServices } from "../services.js";
import { requireSchematic } from "./asset-request.js";
import { blobResponse, manifestResponse, proxyImage, referrersResponse } from "./image-proxy.js";
import { tagListResponse } from "./tag-list.js";

/** `/v2` routes. */
export function registryRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.on(["GET", "HEAD"], "/v2", (c) => c.body(null, 200));
    app.on(["GET", "HEAD"], "/v2/*", async (c) => {
      const method = c.req.method;
      const route = routeV2(c.req.path.slice("/v2".length));
      if (route.target === "ping") return c.body(null, 200);
      if (route.target === "proxy") {
        const artifactType = c.req.query("artifactType");
        return proxyImage(s, {
          ...route,
          method,
          ...(artifactType === undefined ? {} : { artifactType }),
          query: { n: c.req.query("n"), last: c.req.query("last") },
        });
      }

      const stored = await requireSchematic(s, route.schematic);
      const { platform, secureboot } = parseInstallerImageName(route.image);
      const repo = `${route.image}/${stored.id}`;
      if (route.target === "blob") {
        const blob = await s.installers.blob(route.reference);
        if (blob === undefined) return plainError(404, `blob ${route.reference} not found`);
        return blobResponse(method, route.reference, blob.size, () => blob.open());
      }
      if (route.target === "tags") {
        // The versions an installer can be pulled for, and `latest` when a stable one exists.
        const versions = await s.release.versions();
        const tags = versions.map((v) => v.tag);
        if (latestStable(versions) !== undefined) tags.push("latest");
        return tagListResponse(method, repo, tags, { n: c.req.query("n"), last: c.req.query("last") });
      }
      if (route.target === "referrers") {
        if (!isDigest(route.reference)) return plainError(404, `invalid digest ${route.reference}`);
        // No signatures or attestations are attached to installer indexes yet: an empty index.
        const artifactType = c.req.query("artifactType");
        return referrersResponse(method, { schemaVersion: 2, manifests: [] }, artifactType);
      }

      let ref = route.reference;
      if (ref === "latest") {
        const latest = latestStable(await s.release.versions());
        if (latest === undefined) return plainError(404, "no stable Talos version is available");
        ref = latest.tag;
      }
      // Digests and non-version tags are served from what the registry already holds (no build).
      if (isDigest(ref) || !ref.startsWith("v")) {
        const m = await s.installers.manifest(repo, ref);
        if (m === undefined) return plainError(404, `manifest ${ref} not found`);
        return manifestResponse(method, m);
      }
      const version = await s.release.version(ref);
      const desc = await s.installers.ensure(route.image, stored, version, platform, secureboot);
      const m = await s.installers.manifest(repo, desc.digest);
      if (m === undefined)
        throw new BootforgeError("io", `installer index ${desc.digest} vanished from the registry`);
      return manifestResponse(method, m);
    });
  };
}

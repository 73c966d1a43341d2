/**
 * The OCI distribution front end under `/v2`: the ping, per-schematic installer images
 * (`<image>/<schematic>:<version|latest>`, built on first pull and served by digest from the
 * embedded registry) and the `siderolabs/*` image proxy to the release source. Errors are
 * plain text, as upstream's.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { BootforgeError } from "../../errors/index.js";
import { isDigest } from "../../oci/digest.js";
import { blobPath, OciLayout } from "../../oci/layout.js";
import type { ManifestData } from "../../oci/client.js";
import { parseInstallerImageName, routeV2 } from "../../profile/index.js";
import { latestStable } from "../../release/versions.js";
import type { RouteModule } from "../app.js";
import { plainError } from "../http/plain-error.js";
import type { FactoryServices } from "../services.js";
import { requireSchematic } from "./asset-request.js";
import { goJson } from "./go-json.js";

/** Images the proxy serves (upstream `ComponentsOptions.ImageMap`). */
const PROXIED = new Set(["installer-base", "installer", "imager", "extensions", "overlays", "talosctl-all"]);

function manifestResponse(method: string, m: ManifestData): Response {
  return new Response(method === "HEAD" ? null : new Uint8Array(m.bytes), {
    status: 200,
    headers: {
      "Content-Type": m.mediaType,
      "Content-Length": String(m.bytes.length),
      "Docker-Content-Digest": m.digest,
    },
  });
}

function blobResponse(method: string, digest: string, size: number, open: () => Readable): Response {
  const body = method === "HEAD" ? null : (Readable.toWeb(open()) as ReadableStream<Uint8Array>);
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "application/octet-stream",
      "Content-Length": String(size),
      "Docker-Content-Digest": digest,
    },
  });
}

/** `/v2` routes. */
export function registryRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.on(["GET", "HEAD"], "/v2", (c) => c.body(null, 200));
    app.on(["GET", "HEAD"], "/v2/*", async (c) => {
      const method = c.req.method;
      const route = routeV2(c.req.path.slice("/v2".length));
      if (route.target === "ping") return c.body(null, 200);
      if (route.target === "proxy") return proxy(s, method, route.image, route.resource, route.reference);

      const stored = await requireSchematic(s, route.schematic);
      const { platform, secureboot } = parseInstallerImageName(route.image);
      const repo = `${route.image}/${stored.id}`;
      if (route.target === "blob") {
        const blob = await s.installers.blob(route.reference);
        if (blob === undefined) return plainError(404, `blob ${route.reference} not found`);
        return blobResponse(method, route.reference, blob.size, () => blob.open());
      }
      if (route.target === "referrers") {
        if (!isDigest(route.reference)) return plainError(404, `invalid digest ${route.reference}`);
        // No signatures or attestations are attached to installer indexes yet: an empty index.
        const bytes = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: [],
          }),
        );
        return new Response(method === "HEAD" ? null : new Uint8Array(bytes), {
          status: 200,
          headers: {
            "Content-Type": "application/vnd.oci.image.index.v1+json",
            "Content-Length": String(bytes.length),
          },
        });
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

async function proxy(
  s: FactoryServices,
  method: string,
  image: string,
  resource: string,
  reference: string,
): Promise<Response> {
  if (!PROXIED.has(image)) return plainError(404, `unknown image: ${image}`);
  const repo = await s.release.repo(`siderolabs/${image}`);
  if (resource === "tags") {
    const tags = await repo.tags();
    return new Response(method === "HEAD" ? null : goJson({ name: `siderolabs/${image}`, tags }), {
      status: 200,
      headers: { "Content-Type": "application/json" },
    });
  }
  if (resource === "referrers") return plainError(404, "referrers are not available through the proxy");
  const src = repo.source;
  if (!(src instanceof OciLayout)) {
    // Only the embedded release (a layout dir) is proxied; a remote release is pulled directly.
    return plainError(503, "image proxy is only available for a local release layout");
  }
  if (resource === "manifests") {
    try {
      const desc = await src.resolve(repo.refFor(reference));
      return manifestResponse(method, await src.manifest(desc));
    } catch (e) {
      if (e instanceof BootforgeError && e.kind === "not-found")
        return plainError(404, `manifest ${reference} not found`);
      throw e;
    }
  }
  if (!isDigest(reference)) return plainError(404, `invalid digest ${reference}`);
  const file = join(src.dir, blobPath(reference));
  const st = await stat(file).catch(() => undefined);
  if (st === undefined) return plainError(404, `blob ${reference} not found`);
  return blobResponse(method, reference, st.size, () => createReadStream(file));
}

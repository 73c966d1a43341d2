/**
 * `GET|HEAD /image/:schematic/:version/:path`: the asset download, with upstream's order of
 * checks and headers, plus Range, ETag and If-None-Match. A cached asset is answered straight
 * from the store; otherwise it is built once and then served.
 */
import { BootforgeError } from "../../errors/index.js";
import { contentTypeOf } from "../../profile/index.js";
import type { RouteModule } from "../app.js";
import { plainError } from "../http/plain-error.js";
import { serveObject } from "../http/serve-object.js";
import type { FactoryServices } from "../services.js";
import { assetRequest, parsePath } from "../assets/request.js";
import { checkVersionSyntax, requireSchematic, requireVersion } from "./asset-request.js";

const ENTERPRISE_SUFFIXES = [".sigstore.json", ".sha512", ".sha256"];

/** Asset downloads. */
export function imageRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.on(["GET", "HEAD"], "/image/:schematic/:version/:path", async (c) => {
      const path = c.req.param("path");
      // Checksums and signatures are Enterprise features; upstream answers 402 before any lookup.
      if (ENTERPRISE_SUFFIXES.some((suffix) => path.endsWith(suffix))) {
        return plainError(402, "this feature is only available in the Enterprise edition");
      }
      const stored = await requireSchematic(s, c.req.param("schematic"));
      // Upstream order: version syntax, asset path, then availability of the version.
      checkVersionSyntax(c.req.param("version"));
      const profile = parsePath(path);
      const version = await requireVersion(s, c.req.param("version"));
      const req = assetRequest(stored, version, profile);
      const filename = c.req.query("filename") ?? path;
      if (filename.includes("/") || filename === "") {
        throw new BootforgeError("invalid-input", `invalid filename ${JSON.stringify(filename)}`);
      }
      const resolved = await s.assets.resolve(req);
      const obj = (await s.assets.cached(resolved, version)) ?? (await s.assets.get(req, resolved));
      return serveObject(obj, {
        method: c.req.method,
        contentType: contentTypeOf(path),
        filename,
        headers: c.req.raw.headers,
      });
    });
  };
}

/**
 * `GET|HEAD /image/:schematic/:version/:path`: the asset download, with upstream's order of
 * checks and headers, plus Range, ETag and If-None-Match. A cached asset is answered straight
 * from the store; otherwise it is built once and then served.
 *
 * `<path>.sha256`, `<path>.sha512` and `<path>.sigstore.json` (Enterprise-only upstream, where
 * they answer 402) are free here: the checksum in `sha256sum` format and a Sigstore bundle,
 * both from the digests recorded when the asset was stored; an uncached asset is built first.
 */
import { BootforgeError } from "../../errors/index.js";
import { contentTypeOf } from "../../profile/index.js";
import type { RouteModule } from "../app.js";
import { serveObject } from "../http/serve-object.js";
import type { FactoryServices } from "../services.js";
import { assetRequest, parsePath } from "../assets/request.js";
import { digestStream, type AssetDigests } from "../storage/asset-digests.js";
import type { StoredObject } from "../storage/types.js";
import { checkVersionSyntax, requireSchematic, requireVersion } from "./asset-request.js";

type Sidecar = ".sha256" | ".sha512" | ".sigstore.json";
const SIDECARS: readonly Sidecar[] = [".sigstore.json", ".sha512", ".sha256"];

/** Asset downloads and their checksums and signatures. */
export function imageRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.on(["GET", "HEAD"], "/image/:schematic/:version/:path", async (c) => {
      const full = c.req.param("path");
      const sidecar = SIDECARS.find((suffix) => full.endsWith(suffix) && full.length > suffix.length);
      const path = sidecar === undefined ? full : full.slice(0, -sidecar.length);
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
      // Refused before any build: a signature this factory cannot make is not worth building for.
      if (sidecar === ".sigstore.json") {
        if (s.assetSigner === undefined) {
          throw new BootforgeError(
            "not-found",
            "asset signatures are not available: this factory has no cache signing key (set cache.signingKeyPath)",
          );
        }
        s.assetSigner.checkKey();
      }
      const resolved = await s.assets.resolve(req);
      const obj = (await s.assets.cached(resolved, version)) ?? (await s.assets.get(req, resolved));
      if (sidecar !== undefined) return serveSidecar(s, obj, sidecar, filename, c.req.method);
      return serveObject(obj, {
        method: c.req.method,
        contentType: contentTypeOf(path),
        filename,
        headers: c.req.raw.headers,
      });
    });
  };
}

/** Digests as recorded by the store (objects without a record are hashed, which stores avoid). */
function digestsOf(obj: StoredObject): Promise<AssetDigests> {
  return obj.digests !== undefined ? obj.digests() : digestStream(obj.open());
}

async function serveSidecar(
  s: FactoryServices,
  obj: StoredObject,
  sidecar: Sidecar,
  filename: string,
  method: string,
): Promise<Response> {
  const d = await digestsOf(obj);
  let body: string;
  let contentType: string;
  if (sidecar === ".sigstore.json") {
    // Checked before the build; repeated for the type checker.
    if (s.assetSigner === undefined) throw new BootforgeError("internal", "no asset signer");
    body = await s.assetSigner.bundle(d.sha256);
    contentType = "application/json";
  } else {
    // `sha256sum`/`sha512sum` text mode: digest, two spaces, file name.
    body = `${sidecar === ".sha256" ? d.sha256 : d.sha512}  ${filename}\n`;
    contentType = "text/plain; charset=utf-8";
  }
  const bytes = Buffer.from(body);
  const headers: Record<string, string> = {
    "Content-Type": contentType,
    "Content-Length": String(bytes.length),
    "Content-Disposition": `attachment; filename="${`${filename}${sidecar}`.replace(/["\\]/g, "_")}"`,
  };
  // A checksum is as stable as the asset: the asset's validator with the suffix. ECDSA
  // signatures are randomized, so a bundle has no strong validator.
  if (sidecar !== ".sigstore.json") headers.ETag = `"${obj.etag.replace(/"/g, "")}${sidecar}"`;
  return new Response(method === "HEAD" ? null : bytes, { status: 200, headers });
}

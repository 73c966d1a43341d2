/** `GET /pxe/:schematic/:version/:path`: upstream's iPXE scripts (standard and SecureBoot). */
import { parsePxePath } from "../../profile/index.js";
import type { RouteModule } from "../app.js";
import { plainError } from "../http/plain-error.js";
import type { FactoryServices } from "../services.js";
import type { StoredObject } from "../storage/types.js";
import { SNIFFED_TEXT } from "./go-json.js";
import { assetRequest } from "../assets/request.js";
import { requireSchematic, requireVersion } from "./asset-request.js";

async function readText(obj: StoredObject, limit = 64 << 10): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of obj.open()) {
    size += (c as Buffer).length;
    if (size > limit) throw new Error("kernel command line asset is unexpectedly large");
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** `url.JoinPath(base, "image", id, version, file)` for a base ending in `/`. */
function assetUrl(base: string, id: string, version: string, file: string): string {
  return `${base.replace(/\/+$/, "")}/image/${id}/${version}/${file}`;
}

/** iPXE scripts. */
export function pxeRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.get("/pxe/:schematic/:version/:path", async (c) => {
      // Upstream registers GET only, so HEAD is a 405 there (Hono routes HEAD to GET handlers).
      if (c.req.method === "HEAD") return plainError(405, "Method Not Allowed", { Allow: "GET, OPTIONS" });
      const path = c.req.param("path");
      const stored = await requireSchematic(s, c.req.param("schematic"));
      const version = await requireVersion(s, c.req.param("version"));
      const pxe = parsePxePath(path);
      const req = assetRequest(stored, version, pxe.cmdlineAsset);
      const cmdline = await readText(await s.assets.get(req));
      const base = s.config.http.externalPXEURL;
      const lines = ["#!ipxe", "", "imgfree"];
      for (const a of pxe.bootAssets) {
        const url = assetUrl(base, stored.id, version.tag, a.asset);
        lines.push(a.directive === "kernel" ? `kernel ${url} ${cmdline}` : `initrd ${url}`);
      }
      lines.push("boot", "");
      return c.body(lines.join("\n"), 200, { "Content-Type": SNIFFED_TEXT });
    });
  };
}

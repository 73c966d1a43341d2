/** Discovery routes: `/versions`, `/version/:v/extensions/official`, `/version/:v/overlays/official`. */
import { BootforgeError } from "../../errors/index.js";
import { parseTalosVersion } from "../../profile/version.js";
import type { RouteModule } from "../app.js";
import type { FactoryServices } from "../services.js";
import { goJson, SNIFFED_TEXT } from "./go-json.js";

/** Version list and per-version catalogs. */
export function metaRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.get("/versions", async (c) => {
      // Upstream: exactly `?broken=true` lists the configured broken versions instead.
      const list =
        c.req.query("broken") === "true" ? await s.release.brokenVersions() : await s.release.versions();
      return c.body(goJson(list.map((v) => v.tag)), 200, { "Content-Type": SNIFFED_TEXT });
    });

    app.get("/version/:version/extensions/official", async (c) => {
      const v = await s.release.version(c.req.param("version"));
      const items = (await s.release.extensions(v)).map((e) => ({
        name: e.name,
        ref: e.ref,
        digest: e.digest,
        author: e.author,
        description: e.description,
      }));
      return c.body(goJson(items), 200, { "Content-Type": SNIFFED_TEXT });
    });

    app.get("/version/:version/overlays/official", async (c) => {
      const text = c.req.param("version");
      const parsed = parseTalosVersion(text.startsWith("v") ? text : `v${text}`);
      if (parsed === undefined)
        throw new BootforgeError("not-found", `version ${text.replace(/^v/, "")} is not available`);
      // Upstream answers [] below 1.7.0 before checking availability.
      if (parsed.major < 1 || (parsed.major === 1 && parsed.minor < 7)) {
        return c.body(goJson([]), 200, { "Content-Type": SNIFFED_TEXT });
      }
      const v = await s.release.version(text);
      const items = (await s.release.overlays(v)).map((o) => ({
        name: o.name,
        image: o.image,
        ref: o.ref,
        digest: o.digest,
      }));
      return c.body(goJson(items), 200, { "Content-Type": SNIFFED_TEXT });
    });
  };
}

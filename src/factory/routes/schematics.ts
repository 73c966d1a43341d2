/** `POST /schematics` and `GET /schematics/:id`, byte-compatible with upstream. */
import { MAX_SCHEMATIC_BYTES } from "../../schematic/index.js";
import type { RouteModule } from "../app.js";
import { plainError } from "../http/plain-error.js";
import type { FactoryServices } from "../services.js";
import { readBodyLimited } from "./read-body.js";

/** Schematic create and get. */
export function schematicRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.post("/schematics", async (c) => {
      const body = await readBodyLimited(c.req.raw, MAX_SCHEMATIC_BYTES, "schematic", c.env?.incoming);
      const stored = await s.schematics.create(body);
      // Upstream writes with json.Encoder: compact, trailing newline, 201 even when it existed.
      return c.body(JSON.stringify({ id: stored.id, schematic: stored.canonical }) + "\n", 201, {
        "Content-Type": "application/json",
      });
    });

    app.get("/schematics/:id", async (c) => {
      const stored = await s.schematics.get(c.req.param("id"));
      if (stored === undefined) return plainError(404, "schematic not found");
      return c.body(stored.canonical, 200, { "Content-Type": "application/yaml" });
    });
  };
}

/** `POST /schematics` and `GET /schematics/:id`, byte-compatible with upstream. */
import { BootforgeError } from "../../errors/index.js";
import { MAX_SCHEMATIC_BYTES } from "../../schematic/index.js";
import { fastPathsOf, type RouteModule } from "../app.js";
import type { FastReply } from "../http/fast-path.js";
import { plainError } from "../http/plain-error.js";
import type { StoredSchematic } from "../schematic-service.js";
import type { FactoryServices } from "../services.js";
import { readBodyLimited, readIncomingLimited } from "./read-body.js";

const JSON_TYPE = { "content-type": "application/json" };
// The message readBodyLimited gives, made without a per-request closure.
const tooLarge = () =>
  new BootforgeError("too-large", `schematic is larger than ${MAX_SCHEMATIC_BYTES} bytes`);

/** Schematic create and get. */
export function schematicRoutes(s: FactoryServices): RouteModule {
  // A stored schematic always answers the same JSON: encode it once.
  const answers = new WeakMap<StoredSchematic, string>();
  // Upstream writes with json.Encoder: compact, trailing newline, 201 even when it existed.
  const create = async (body: Buffer): Promise<FastReply> => {
    const stored = await s.schematics.create(body);
    let json = answers.get(stored);
    if (json === undefined) {
      json = JSON.stringify({ id: stored.id, schematic: stored.canonical }) + "\n";
      answers.set(stored, json);
    }
    return { status: 201, headers: JSON_TYPE, body: json };
  };
  return (app) => {
    app.post("/schematics", async (c) => {
      const body = await readBodyLimited(c.req.raw, MAX_SCHEMATIC_BYTES, "schematic", c.env?.incoming);
      const r = await create(body);
      return c.body(r.body, 201, { "Content-Type": "application/json" });
    });
    // The most frequent call: answered before Hono with the same bytes (see http/fast-path.ts).
    fastPathsOf(app)?.add("POST", "/schematics", async (incoming) =>
      create(await readIncomingLimited(incoming, MAX_SCHEMATIC_BYTES, tooLarge)),
    );

    app.get("/schematics/:id", async (c) => {
      const stored = await s.schematics.get(c.req.param("id"));
      if (stored === undefined) return plainError(404, "schematic not found");
      return c.body(stored.canonical, 200, { "Content-Type": "application/yaml" });
    });
  };
}

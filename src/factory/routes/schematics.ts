/** `POST /schematics` and `GET /schematics/:id`, byte-compatible with upstream. */
import { BootforgeError } from "../../errors/index.js";
import { MAX_SCHEMATIC_BYTES } from "../../schematic/index.js";
import { fastPathsOf, type RouteModule } from "../app.js";
import type { FastReply } from "../http/fast-path.js";
import { plainError } from "../http/plain-error.js";
import type { StoredSchematic } from "../schematic-service.js";
import type { FactoryServices } from "../services.js";
import { readBodyLimited } from "../http/read-body.js";

const JSON_TYPE = { "content-type": "application/json" };
// The message readBodyLimited gives, made without a per-request closure.
const tooLarge = () =>
  new BootforgeError("too-large", `schematic is larger than ${MAX_SCHEMATIC_BYTES} bytes`);

/** Schematic create and get. */
export function schematicRoutes(s: FactoryServices): RouteModule {
  // A stored schematic always answers the same: its reply is made once.
  const answers = new WeakMap<StoredSchematic, FastReply>();
  // Upstream writes with json.Encoder: compact, trailing newline, 201 even when it existed.
  const reply = (stored: StoredSchematic): FastReply => {
    let r = answers.get(stored);
    if (r === undefined) {
      const body = JSON.stringify({ id: stored.id, schematic: stored.canonical }) + "\n";
      r = { status: 201, headers: JSON_TYPE, body };
      answers.set(stored, r);
    }
    return r;
  };
  const create = async (body: Buffer): Promise<FastReply> => reply(await s.schematics.create(body));
  return (app) => {
    app.post("/schematics", async (c) => {
      const body = await readBodyLimited(c.req.raw, MAX_SCHEMATIC_BYTES, "schematic", c.env?.incoming);
      const r = await create(body);
      return c.body(r.body, 201, { "Content-Type": "application/json" });
    });
    // The most frequent call: answered before Hono with the same bytes (see http/fast-path.ts);
    // a body seen before is answered from memory without a single await.
    fastPathsOf(app)?.add("POST", "/schematics", {
      limit: MAX_SCHEMATIC_BYTES,
      tooLarge,
      known: (body) => {
        const stored = s.schematics.known(body);
        return stored === undefined ? undefined : reply(stored);
      },
      answer: create,
    });

    app.get("/schematics/:id", async (c) => {
      const stored = await s.schematics.get(c.req.param("id"));
      if (stored === undefined) return plainError(404, "schematic not found");
      return c.body(stored.canonical, 200, { "Content-Type": "application/yaml" });
    });
  };
}

/**
 * Schematic create/get over a `SchematicStore`: strict decode (upstream errors, 1 MiB limit),
 * canonical YAML and ID, idempotent create, and a bounded in-memory cache of parsed schematics
 * (IDs are content addresses, so positive entries never go stale).
 */
import { BootforgeError } from "../errors/index.js";
import {
  MAX_SCHEMATIC_BYTES,
  canonicalSchematic,
  idOfCanonical,
  parseSchematic,
  type Schematic,
} from "../schematic/index.js";
import type { FactoryMetrics } from "./metrics.js";
import type { SchematicStore } from "./storage/types.js";

/** A stored schematic. */
export interface StoredSchematic {
  id: string;
  canonical: string;
  schematic: Schematic;
}

const ID = /^[0-9a-f]{64}$/;
const CACHE_LIMIT = 10_000;

/** Creates and reads schematics. */
export class SchematicService {
  readonly #store: SchematicStore;
  readonly #metrics: FactoryMetrics;
  readonly #cache = new Map<string, StoredSchematic>();

  constructor(store: SchematicStore, metrics: FactoryMetrics) {
    this.#store = store;
    this.#metrics = metrics;
  }

  /** Decodes, canonicalises and stores a schematic; storing an existing one is a no-op. */
  async create(body: string | Uint8Array): Promise<StoredSchematic> {
    const size = typeof body === "string" ? Buffer.byteLength(body) : body.length;
    if (size > MAX_SCHEMATIC_BYTES) {
      throw new BootforgeError("too-large", `schematic is larger than ${MAX_SCHEMATIC_BYTES} bytes`);
    }
    const schematic = parseSchematic(body);
    const canonical = canonicalSchematic(schematic);
    const id = idOfCanonical(canonical);
    const entry = { id, canonical, schematic };
    if (this.#cache.has(id) || (await this.#store.get(id)) !== undefined) {
      this.#metrics.schematicDuplicate.inc();
    } else {
      await this.#store.put(id, canonical);
      this.#metrics.schematicCreate.inc();
    }
    this.#remember(entry);
    return entry;
  }

  /** The schematic with this ID, or undefined (also for anything that is not a sha256 hex ID). */
  async get(id: string): Promise<StoredSchematic | undefined> {
    if (!ID.test(id)) return undefined;
    this.#metrics.schematicGet.inc();
    const hit = this.#cache.get(id);
    if (hit !== undefined) return hit;
    const text = await this.#store.get(id);
    if (text === undefined) return undefined;
    // Re-parse strictly: the stored bytes must still be a valid schematic with this very ID.
    const schematic = parseSchematic(text);
    const canonical = canonicalSchematic(schematic);
    if (idOfCanonical(canonical) !== id) {
      throw new BootforgeError("io", `stored schematic ${id} does not hash to its ID`);
    }
    const entry = { id, canonical, schematic };
    this.#remember(entry);
    return entry;
  }

  #remember(e: StoredSchematic): void {
    if (this.#cache.size >= CACHE_LIMIT) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(e.id, e);
  }
}

/**
 * Schematic create/get over a `SchematicStore`: strict decode (upstream errors, 1 MiB limit),
 * canonical YAML and ID, idempotent create, and a bounded in-memory cache of parsed schematics
 * (IDs are content addresses, so positive entries never go stale).
 */
import { hash } from "node:crypto";
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
/** Distinct request bodies remembered (most clients send one of a handful of schematics). */
const BODY_CACHE_LIMIT = 1_000;

/** Go type names of the schematic's structs, by the path of the mapping they decode. */
const GO_TYPES: ReadonlyArray<[RegExp, string]> = [
  [/^$/, "Schematic"],
  [/^customization$/, "Customization"],
  [/^customization\.meta\[\d+\]$/, "MetaValue"],
  [/^customization\.systemExtensions$/, "SystemExtensions"],
  [/^customization\.secureboot$/, "SecureBootCustomization"],
  [/^customization\.diskImage$/, "DiskImageCustomization"],
  [/^overlay$/, "Overlay"],
];

/**
 * Strict decode with upstream's message for unknown fields (clients and the upstream test
 * suite match it): `yaml: construct errors: line N: field X not found in type schematic.T`.
 */
function parseUpstreamErrors(body: string | Uint8Array): Schematic {
  try {
    return parseSchematic(body);
  } catch (e) {
    if (
      e instanceof BootforgeError &&
      e.path !== undefined &&
      e.line !== undefined &&
      / not found in /.test(e.message)
    ) {
      const dot = Math.max(e.path.lastIndexOf("."), -1);
      const parent = dot < 0 ? "" : e.path.slice(0, dot);
      const field = e.path.slice(dot + 1);
      const type = GO_TYPES.find(([re]) => re.test(parent))?.[1];
      if (type !== undefined) {
        throw new BootforgeError(
          "invalid-input",
          `yaml: construct errors: line ${e.line}: field ${field} not found in type schematic.${type}`,
        );
      }
    }
    throw e;
  }
}

/** Bodies up to this size key the body cache by their own bytes (cheaper than hashing them). */
const BODY_KEY_INLINE = 4096;

/**
 * The body cache key: the bytes themselves when small, else their sha256. Strings and bytes are
 * keyed apart, as the decoder reads them through different paths.
 */
function bodyKey(body: string | Uint8Array, size: number): string {
  if (typeof body === "string")
    return size <= BODY_KEY_INLINE ? `s:${body}` : `S:${hash("sha256", body, "base64")}`;
  if (size <= BODY_KEY_INLINE)
    return `b:${Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("latin1")}`;
  return `B:${hash("sha256", body, "base64")}`;
}

/** Creates and reads schematics. */
export class SchematicService {
  readonly #store: SchematicStore;
  readonly #metrics: FactoryMetrics;
  readonly #cache = new Map<string, StoredSchematic>();
  /** A create body (see `bodyKey`) → what it decoded to, least recently used first. */
  readonly #byBody = new Map<string, StoredSchematic>();

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
    // Decoding (YAML parse, strict checks, canonical YAML, ID) is most of a create's CPU, and the
    // common call repeats a body seen before: the same bytes always decode to the same schematic.
    const key = bodyKey(body, size);
    const seen = this.#byBody.get(key);
    // Only while the ID is in the ID cache, so storage is consulted exactly when it was before.
    if (seen !== undefined && this.#cache.has(seen.id)) {
      this.#byBody.delete(key);
      this.#byBody.set(key, seen);
      this.#metrics.schematicDuplicate.inc();
      return seen;
    }
    const schematic = parseUpstreamErrors(body);
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
    this.#rememberBody(key, entry);
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

  #rememberBody(key: string, e: StoredSchematic): void {
    this.#byBody.delete(key);
    if (this.#byBody.size >= BODY_CACHE_LIMIT) {
      const oldest = this.#byBody.keys().next().value;
      if (oldest !== undefined) this.#byBody.delete(oldest);
    }
    this.#byBody.set(key, e);
  }

  #remember(e: StoredSchematic): void {
    if (this.#cache.size >= CACHE_LIMIT) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(e.id, e);
  }
}

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

/** Bodies up to this size are hashed here (FNV-1a); larger ones by sha1 in native code. */
const BODY_HASH_INLINE = 4096;

/** A remembered create body and what it decoded to. */
interface BodyEntry {
  hash: number;
  /** The body's bytes, compared in full on a hash match; strings and bytes are kept apart, as the decoder reads them through different paths. */
  bytes: Buffer;
  text: boolean;
  stored: StoredSchematic;
  /** Asked for since it last came up for eviction (second chance). */
  used: boolean;
}

function bodyBytes(body: string | Uint8Array): Buffer {
  return typeof body === "string"
    ? Buffer.from(body, "utf8")
    : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function bodyHash(bytes: Buffer): number {
  if (bytes.length > BODY_HASH_INLINE) return hash("sha1", bytes, "buffer").readUInt32LE(0);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

/** Creates and reads schematics. */
export class SchematicService {
  readonly #store: SchematicStore;
  readonly #metrics: FactoryMetrics;
  readonly #cache = new Map<string, StoredSchematic>();
  /** Create bodies by hash (see `bodyHash`), each hash's entries in a short list. */
  readonly #byBody = new Map<number, BodyEntry[]>();
  /** The same entries, oldest first: evicted with a second chance for those used since. */
  #bodyOrder: BodyEntry[] = [];

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
    const bytes = bodyBytes(body);
    const text = typeof body === "string";
    const h = bodyHash(bytes);
    const seen = this.#knownBody(h, bytes, text);
    if (seen !== undefined) return seen;
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
    this.#rememberBody({ hash: h, bytes: Buffer.from(bytes), text, stored: entry, used: false });
    return entry;
  }

  /**
   * `create` for a body seen before, synchronously: the stored schematic, or undefined when the
   * body has to be decoded (or storage consulted) first.
   */
  known(body: Uint8Array): StoredSchematic | undefined {
    if (body.length > MAX_SCHEMATIC_BYTES) return undefined;
    const bytes = bodyBytes(body);
    return this.#knownBody(bodyHash(bytes), bytes, false);
  }

  // Decoding (YAML parse, strict checks, canonical YAML, ID) is most of a create's CPU, and the
  // common call repeats a body seen before: the same bytes always decode to the same schematic.
  // Only while the ID is in the ID cache, so storage is consulted exactly when it was before.
  #knownBody(h: number, bytes: Buffer, text: boolean): StoredSchematic | undefined {
    const entries = this.#byBody.get(h);
    if (entries === undefined) return undefined;
    for (const e of entries) {
      if (e.text !== text || !e.bytes.equals(bytes)) continue;
      if (!this.#cache.has(e.stored.id)) return undefined;
      e.used = true;
      this.#metrics.schematicDuplicate.inc();
      return e.stored;
    }
    return undefined;
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

  #rememberBody(e: BodyEntry): void {
    const same = this.#byBody.get(e.hash)?.find((x) => x.text === e.text && x.bytes.equals(e.bytes));
    if (same !== undefined) {
      // Seen before, but its ID had left the ID cache: the entry now points at the fresh one.
      same.stored = e.stored;
      same.used = true;
      return;
    }
    while (this.#bodyOrder.length >= BODY_CACHE_LIMIT) {
      const oldest = this.#bodyOrder.shift()!;
      if (oldest.used) {
        oldest.used = false;
        this.#bodyOrder.push(oldest);
        continue;
      }
      const list = this.#byBody.get(oldest.hash)!;
      const rest = list.filter((x) => x !== oldest);
      if (rest.length === 0) this.#byBody.delete(oldest.hash);
      else this.#byBody.set(oldest.hash, rest);
    }
    const list = this.#byBody.get(e.hash);
    if (list === undefined) this.#byBody.set(e.hash, [e]);
    else list.push(e);
    this.#bodyOrder.push(e);
  }

  #remember(e: StoredSchematic): void {
    if (this.#cache.size >= CACHE_LIMIT) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(e.id, e);
  }
}

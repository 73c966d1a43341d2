/** Storage interfaces the factory is written against; backends: local directory, OCI registry. */
import type { Readable } from "node:stream";
import type { AssetDigests } from "./asset-digests.js";

export type { AssetDigests } from "./asset-digests.js";

/** A complete stored object (assets are only visible once fully written). */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  /** Strong validator for HTTP caching (quoted, as it goes in the ETag header). */
  readonly etag: string;
  /** Local file path when the backend has one (enables sendfile-like fast paths). */
  readonly path?: string;
  /** Opens the bytes `[start, end]` (inclusive), or the whole object. */
  open(range?: { start: number; end: number }): Readable;
  /**
   * The digests recorded when the asset was stored (the asset stores always have them; other
   * objects, e.g. talosctl binaries, may not).
   */
  digests?(): Promise<AssetDigests>;
}

/** Content-addressed asset cache: key → bytes, written atomically. */
export interface AssetStore {
  /** Returns the object when present and complete. */
  get(key: string): Promise<StoredObject | undefined>;
  /** Stores what `produce` writes into the given temporary file path, atomically under `key`. */
  put(key: string, produce: (tmpPath: string) => Promise<void>): Promise<StoredObject>;
}

/** Schematic storage: canonical YAML by ID. */
export interface SchematicStore {
  get(id: string): Promise<string | undefined>;
  put(id: string, canonicalYaml: string): Promise<void>;
}

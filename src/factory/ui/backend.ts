/**
 * What the UI needs from the factory service. The factory implements it over its release source
 * and schematic storage; the UI never touches registries or storage itself.
 */
import type { ExtensionEntry, OverlayEntry } from "../../release/catalogs.js";

/** The factory services the wizard reads and writes through. */
export interface UiBackend {
  /** Served Talos versions (`v1.12.0`), ascending, as `/versions` lists them. */
  versions(): Promise<string[]>;
  /** The official extensions catalog of a served version, in catalog order. */
  extensions(version: string): Promise<ExtensionEntry[]>;
  /** The official overlays catalog of a served version (`[]` below 1.7). */
  overlays(version: string): Promise<OverlayEntry[]>;
  /**
   * Stores a schematic given as YAML (or JSON) text, as `POST /schematics` does; resolves the ID
   * and the canonical YAML, rejects with a BootforgeError (`invalid-input`) for a bad schematic.
   */
  createSchematic(yamlText: string): Promise<{ id: string; yaml: string }>;
  /** The canonical YAML of a stored schematic, or undefined when the ID is unknown. */
  getSchematic(id: string): Promise<string | undefined>;
  /** Base URL of the factory as users reach it (`https://factory.example.com`), for asset links. */
  readonly externalURL: string;
  /** Base URL for PXE scripts (defaults to externalURL in the factory config). */
  readonly externalPXEURL: string;
  /** The factory version shown in the page header. */
  readonly serverVersion: string;
}

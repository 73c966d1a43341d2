/**
 * The shared front half of `/image` and `/pxe`: schematic lookup (404 with upstream text) and
 * version validation (better than upstream: malformed is 400, unknown is 404, never 500). The
 * asset path grammar (400 with upstream text) is `../assets/request.ts`.
 */
import { BootforgeError } from "../../errors/index.js";
import type { ServedVersion } from "../../release/versions.js";
import type { StoredSchematic } from "../schematic-service.js";
import type { FactoryServices } from "../services.js";

const VERSION = /^v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** The stored schematic, or 404 `schematic ID "<id>" not found`. */
export async function requireSchematic(s: FactoryServices, id: string): Promise<StoredSchematic> {
  const stored = await s.schematics.get(id);
  if (stored === undefined)
    throw new BootforgeError("not-found", `schematic ID ${JSON.stringify(id)} not found`);
  return stored;
}

/** Checks the version's syntax: 400 when malformed (upstream answers 500). */
export function checkVersionSyntax(text: string): void {
  if (!VERSION.test(text)) {
    throw new BootforgeError(
      "invalid-input",
      `invalid Talos version ${JSON.stringify(text)}: expected vX.Y.Z`,
    );
  }
}

/** A served version from URL text: 400 when malformed, 404 when not served. */
export async function requireVersion(s: FactoryServices, text: string): Promise<ServedVersion> {
  checkVersionSyntax(text);
  return s.release.version(text);
}

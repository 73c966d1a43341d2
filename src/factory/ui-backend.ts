/** The UI's `UiBackend` over the factory's services. */
import type { FactoryServices } from "./services.js";
import type { UiBackend } from "./ui/index.js";

/** Implements the UI contract with the release source and schematic service. */
export function uiBackend(s: FactoryServices, serverVersion: string): UiBackend {
  return {
    versions: async () => (await s.release.versions()).map((v) => v.tag),
    extensions: async (v) => s.release.extensions(await s.release.version(v)),
    overlays: async (v) => s.release.overlays(await s.release.version(v)),
    createSchematic: async (text) => {
      const stored = await s.schematics.create(text);
      return { id: stored.id, yaml: stored.canonical };
    },
    getSchematic: async (id) => (await s.schematics.get(id))?.canonical,
    // Read live: with port 0 the URLs are only known once the socket is bound.
    get externalURL() {
      return s.config.http.externalURL.replace(/\/+$/, "");
    },
    get externalPXEURL() {
      return s.config.http.externalPXEURL.replace(/\/+$/, "");
    },
    serverVersion,
  };
}

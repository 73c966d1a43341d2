/** The services route modules are written against (wired in `factory.ts`). */
import type { AssetBuilder } from "./assets/asset-builder.js";
import type { AssetSigner } from "./assets/asset-signature.js";
import type { ResolvedConfig } from "./config.js";
import type { InstallerRegistry } from "./registry/installer-registry.js";
import type { FactoryMetrics } from "./metrics.js";
import type { TalosReleases } from "../release/talos-releases.js";
import type { SchematicService } from "./schematic-service.js";

/** Everything a route module may use. */
export interface FactoryServices {
  config: ResolvedConfig;
  schematics: SchematicService;
  release: TalosReleases;
  assets: AssetBuilder;
  installers: InstallerRegistry;
  metrics: FactoryMetrics;
  /** PEM of the SecureBoot signing certificate, when SecureBoot is enabled. */
  secureBootCertPem: string | undefined;
  /** PEM public key of `cache.signingKeyPath`, when cache signing is configured. */
  cosignPublicKeyPem?: string | undefined;
  /** Signs asset digests (`.sigstore.json`) with `cache.signingKeyPath`, when configured. */
  assetSigner?: AssetSigner | undefined;
}

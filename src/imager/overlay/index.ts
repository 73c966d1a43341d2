/** Overlays: extracted image access, the confined installer protocol, overlay profiles. */
export { extractOverlayImage, openOverlay, overlayProfiles, type OverlayDir } from "./overlay-image.js";
export {
  decodeOverlayOptions,
  encodeExtraOptions,
  encodeInstallRequest,
  overlayGetOptions,
  overlayInstall,
  type OverlayCallOptions,
  type OverlayInstallerOptions,
  type OverlayInstallRequest,
} from "./protocol.js";
export { runConfined, type ConfinedRunOptions } from "./sandbox.js";

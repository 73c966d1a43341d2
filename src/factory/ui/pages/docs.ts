/** Links into the Talos documentation for a version (external; shown next to choices). */
import { parseTalosVersion } from "../../../profile/version.js";

function line(version: string): string {
  const v = parseTalosVersion(version);
  return v === undefined ? "latest" : `v${v.major}.${v.minor}`;
}

/** A page of the current Talos docs site (`/platform-specific-installations/...`). */
export function docsUrl(version: string, path: string): string {
  return `https://docs.siderolabs.com/talos/${line(version)}${path}`;
}

/** A page of the older talos.dev site (board guides still live there). */
export function legacyDocsUrl(version: string, path: string): string {
  return `https://www.talos.dev/${line(version)}${path}`;
}

/** "What's new" and "support matrix" for a version. */
export function versionDocs(version: string): { label: string; url: string }[] {
  return [
    { label: `What's new in Talos ${line(version)}`, url: docsUrl(version, "/getting-started/what's-new-in-talos") },
    { label: "Support matrix", url: docsUrl(version, "/getting-started/support-matrix") },
  ];
}

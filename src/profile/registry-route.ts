/**
 * Route shapes of the factory's OCI registry front end (upstream image-factory `RouteV2`): the
 * part of the URL after `/v2`, classified as ping, schematic installer image or proxied image.
 */
import { invalidInput, notFound } from "../errors/index.js";
import { goQuote } from "./model.js";

/** What a `/v2` request asks for. */
export type V2Target = "ping" | "manifest" | "blob" | "referrers" | "tags" | "proxy";

/** A parsed `/v2` route; fields that do not apply are empty strings, as upstream's zero values. */
export interface V2Route {
  target: V2Target;
  /** Installer image name (`metal-installer`) or, for the proxy, the repository below `siderolabs/`. */
  image: string;
  schematic: string;
  /** `manifests`, `blobs`, `referrers` or `tags`. */
  resource: string;
  reference: string;
}

/** Parses the path after `/v2`; an unknown shape throws a not-found error (HTTP 404). */
export function routeV2(path: string): V2Route {
  const fail = () => notFound(`unknown registry path: ${goQuote(path)}`);
  const trimmed = path.replace(/^\/+|\/+$/g, "");
  if (trimmed === "") return { target: "ping", image: "", schematic: "", resource: "", reference: "" };

  const segments = trimmed.split("/");
  if (segments.length < 3) throw fail();
  const reference = segments[segments.length - 1]!;
  const resource = segments[segments.length - 2]!;
  const repo = segments.slice(0, -2);
  if (reference === "") throw fail();

  if (repo[0] === "siderolabs") {
    const ok =
      resource === "manifests" ||
      resource === "blobs" ||
      resource === "referrers" ||
      (resource === "tags" && reference === "list");
    const image = repo.slice(1).join("/");
    if (!ok || image === "") throw fail();
    return { target: "proxy", image, schematic: "", resource, reference };
  }

  const targets: Record<string, V2Target> = { manifests: "manifest", blobs: "blob", referrers: "referrers" };
  // Upstream lists tags only for proxied images; Bootforge also lists an installer repository's
  // tags (the versions served, and `latest`), so `skopeo inspect` and `crane ls` work.
  const target =
    resource === "tags"
      ? reference === "list"
        ? "tags"
        : undefined
      : Object.hasOwn(targets, resource)
        ? targets[resource]
        : undefined;
  if (target === undefined || repo.length !== 2) throw fail();
  return { target, image: repo[0]!, schematic: repo[1]!, resource, reference };
}

/**
 * The installer image name of a schematic route → platform and SecureBoot (upstream
 * `getRequestedImage`); other names are invalid input (HTTP 400 `invalid image: <name>`).
 */
export function parseInstallerImageName(name: string): { platform: string; secureboot: boolean } {
  if (name === "installer") return { platform: "metal", secureboot: false };
  if (name === "installer-secureboot") return { platform: "metal", secureboot: true };
  if (name.endsWith("-installer-secureboot")) {
    return { platform: name.slice(0, -"-installer-secureboot".length), secureboot: true };
  }
  if (name.endsWith("-installer"))
    return { platform: name.slice(0, -"-installer".length), secureboot: false };
  throw invalidInput(`invalid image: ${name}`);
}

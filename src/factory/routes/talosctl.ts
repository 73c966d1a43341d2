/**
 * `GET /talosctl/:version` (absolute download URLs of every talosctl binary of a version) and
 * `GET|HEAD /talosctl/:version/:path` (one binary), served from the version's `talosctl-all`
 * image as upstream does. Beyond upstream: a missing binary is a 404 (upstream: 500), and
 * downloads get the asset route's Range/ETag handling.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { BootforgeError } from "../../errors/index.js";
import { contentTypeOf } from "../../profile/index.js";
import { Quirks } from "../../profile/quirks.js";
import type { RouteModule } from "../app.js";
import { serveObject } from "../http/serve-object.js";
import type { FactoryServices } from "../services.js";
import type { StoredObject } from "../storage/types.js";
import { goJson } from "./go-json.js";

/** Upstream only lists root files named `talosctl-<os>-<arch>[.exe]`. */
const BINARY = /^talosctl-[^-/]+-[^-/]+(\.exe)?$/;

/** The binaries in an extracted talosctl-all root, sorted as upstream sorts them. */
async function binaries(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => BINARY.test(n)).sort();
}

/** A file of the extracted image as a stored object (so downloads share the asset code path). */
async function fileObject(dir: string, name: string): Promise<StoredObject | undefined> {
  // One path segment only: the route parameter cannot contain "/", but "." and ".." can arrive.
  if (name === "" || name === "." || name === ".." || name.includes("/")) return undefined;
  const path = join(dir, name);
  const st = await lstat(path).catch(() => undefined);
  if (st === undefined || !st.isFile()) return undefined;
  // The extraction directory is named by the image digest, so it pins the bytes.
  const etag = `"${createHash("sha256")
    .update(`${basename(dir)}/${name}`)
    .digest("hex")
    .slice(0, 32)}"`;
  return {
    key: `talosctl/${basename(dir)}/${name}`,
    size: st.size,
    etag,
    path,
    open: (range) => createReadStream(path, range ? { start: range.start, end: range.end } : {}),
  };
}

/** talosctl downloads. */
export function talosctlRoutes(s: FactoryServices): RouteModule {
  return (app) => {
    app.get("/talosctl/:version", async (c) => {
      const version = await s.release.version(c.req.param("version"));
      let names: string[] = [];
      // Served versions before 1.11 have no downloads: an empty list, as upstream.
      if (new Quirks(version.tag).supportsFactoryTalosctlDownload) {
        names = await binaries(await s.release.talosctlDir(version));
      }
      const base = s.config.http.externalURL.replace(/\/+$/, "");
      const urls = names.map((n) => `${base}/talosctl/${version.tag}/${n}`);
      return c.body(goJson(urls), 200, { "Content-Type": "application/json" });
    });

    app.on(["GET", "HEAD"], "/talosctl/:version/:path", async (c) => {
      const version = await s.release.version(c.req.param("version"));
      const name = c.req.param("path");
      const obj = await fileObject(await s.release.talosctlDir(version), name);
      if (obj === undefined) {
        throw new BootforgeError("not-found", `${name} is not available for Talos version ${version.tag}`);
      }
      return serveObject(obj, {
        method: c.req.method,
        contentType: contentTypeOf(name),
        filename: name,
        headers: c.req.raw.headers,
      });
    });
  };
}

/** The UI's static files: its stylesheet and script, and htmx from the pinned npm package. */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { FactoryApp } from "../app.js";
import { WIZARD_CSS } from "./assets/wizard-css.js";
import { WIZARD_JS } from "./assets/wizard-client.js";

let htmx: Promise<string> | undefined;

/** htmx's minified dist file, read once from `node_modules` (no CDN: the factory may be air-gapped). */
function loadHtmx(): Promise<string> {
  htmx ??= readFile(createRequire(import.meta.url).resolve("htmx.org/dist/htmx.min.js"), "utf8");
  return htmx;
}

/** Registers `/css/wizard.css`, `/js/wizard.js` and `/js/htmx.min.js`. */
export function registerStaticAssets(app: FactoryApp): void {
  const cache = "public, max-age=3600";
  app.get("/css/wizard.css", (c) => c.body(WIZARD_CSS, 200, { "Content-Type": "text/css; charset=utf-8", "Cache-Control": cache }));
  app.get("/js/wizard.js", (c) =>
    c.body(WIZARD_JS, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": cache }),
  );
  app.get("/js/htmx.min.js", async (c) =>
    c.body(await loadHtmx(), 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": cache }),
  );
}

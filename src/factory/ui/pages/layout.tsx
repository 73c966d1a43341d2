/** The page shell: head, header and the `#wizard` region htmx swaps between steps. */
import type { Child } from "hono/jsx";

// htmx settings: swap 4xx pages too (they carry the step with its errors), and refetch on Back
// instead of restoring a cached DOM, so the server's view of the URL is always what is shown.
const HTMX_CONFIG = JSON.stringify({
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
  includeIndicatorStyles: false,
  allowEval: false,
  responseHandling: [
    { code: "204", swap: false },
    { code: "[234]..", swap: true },
    { code: "...", swap: false, error: true },
  ],
});

/** A whole HTML page around one wizard step. */
export function Layout(props: { title: string; serverVersion: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content={HTMX_CONFIG} />
        <title>{props.title} · Bootforge Image Factory</title>
        <link rel="stylesheet" href="/css/wizard.css" />
        <script src="/js/htmx.min.js" defer></script>
        <script src="/js/wizard.js" defer></script>
      </head>
      <body>
        <a class="skip" href="#wizard">
          Skip to the wizard
        </a>
        <header class="site">
          <a href="/" class="brand">
            Bootforge Image Factory
          </a>
          <span class="server-version">{props.serverVersion}</span>
        </header>
        <main id="wizard" hx-boost="true" hx-target="#wizard" hx-select="#wizard" hx-swap="outerHTML show:window:top">
          {props.children}
        </main>
        <footer class="site">
          <p>
            Talos Linux boot assets built on demand. API: <code>POST /schematics</code>, <code>GET /versions</code>.
          </p>
        </footer>
      </body>
    </html>
  );
}

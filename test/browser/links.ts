/// <reference lib="dom" />
// Callbacks passed to page/locator evaluate run in the browser, so these files see DOM types.
/**
 * Collects the factory links of the result page, for the integration test that probes them
 * once the asset routes exist: every `/image/...` link answers HEAD, the PXE URL answers GET.
 */
import type { Page } from "playwright-core";

/** One link found on the page. */
export interface PageLink {
  readonly id: string;
  readonly url: string;
  readonly method: "HEAD" | "GET";
}

/** Every download link and copyable PXE URL in the result page's link lists. */
export async function collectFactoryLinks(page: Page): Promise<PageLink[]> {
  return page.$$eval("ul.links li[data-link]", (items) =>
    items.map((li) => {
      const a = li.querySelector("a[href]");
      const id = li.getAttribute("data-link") ?? "";
      if (a !== null) return { id, url: a.getAttribute("href") ?? "", method: "HEAD" as const };
      return { id, url: (li.querySelector("code")?.textContent ?? "").trim(), method: "GET" as const };
    }),
  );
}

/** Requests each link with its method; resolves the ones not answering 200 (empty = all fine). */
export async function probeLinks(links: readonly PageLink[], timeoutMs = 600_000): Promise<string[]> {
  const failures: string[] = [];
  for (const l of links) {
    const res = await fetch(l.url, {
      method: l.method,
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (l.method === "GET") await res.arrayBuffer();
    if (res.status !== 200) failures.push(`${l.method} ${l.url} → ${res.status}`);
  }
  return failures;
}

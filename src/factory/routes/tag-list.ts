/**
 * `GET /v2/<name>/tags/list` as the distribution spec pages it: tags in lexical order, `n` limits
 * a page, `last` resumes after a tag, and a `Link: <…>; rel="next"` header points at the next
 * page while tags remain. Used for installer repositories and for the proxied release images.
 */
import { goJson } from "./go-json.js";
import { plainError } from "../http/plain-error.js";

/** One page of a tag list, or the reason the query is refused. */
export type TagPage =
  { ok: true; tags: string[]; next?: { n: number; last: string } } | { ok: false; message: string };

/** Pages `tags` (any order) by the query's `n` and `last`; pure. */
export function pageTags(
  tags: readonly string[],
  query: { n?: string | undefined; last?: string | undefined },
): TagPage {
  const sorted = [...new Set(tags)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const after = query.last === undefined ? sorted : sorted.filter((t) => t > (query.last ?? ""));
  if (query.n === undefined) return { ok: true, tags: after };
  if (!/^\d{1,9}$/.test(query.n))
    return { ok: false, message: `invalid page size n=${JSON.stringify(query.n)}` };
  const n = Number(query.n);
  const page = after.slice(0, n);
  const lastTag = page[page.length - 1];
  return after.length > n && lastTag !== undefined
    ? { ok: true, tags: page, next: { n, last: lastTag } }
    : { ok: true, tags: page };
}

/** The tag list response for repository `name` (served at `/v2/<name>/tags/list`). */
export function tagListResponse(
  method: string,
  name: string,
  tags: readonly string[],
  query: { n?: string | undefined; last?: string | undefined },
): Response {
  const page = pageTags(tags, query);
  if (!page.ok) return plainError(400, page.message);
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (page.next !== undefined)
    headers.Link = `</v2/${name}/tags/list?n=${page.next.n}&last=${encodeURIComponent(page.next.last)}>; rel="next"`;
  return new Response(method === "HEAD" ? null : goJson({ name, tags: page.tags }), { status: 200, headers });
}

/**
 * A Distribution API v2 client: ping, manifests, blobs (redirects followed, monolithic and chunked
 * uploads, cross-repository mounts), tag listing with pagination and referrers. Every byte read is
 * checked against its digest; auth, retries and timeouts come from `auth.ts` and `transport.ts`.
 */
import type { Readable } from "node:stream";
import { BootforgeError } from "../errors/index.js";
import { Authenticator, repositoryScope } from "./auth.js";
import { defaultKeychain, type Keychain } from "./credentials.js";
import { DigestVerifier, digestHex, digestOfBytes, isDigest, parseDigest, type Digest } from "./digest.js";
import {
  MANIFEST_ACCEPT,
  MediaTypes,
  parseManifest,
  type Descriptor,
  type ImageIndex,
} from "./media-types.js";
import { formatReference, registryApiHost, type Reference } from "./reference.js";
import {
  safeUrl,
  Transport,
  type HttpRequest,
  type HttpResponse,
  type TransportOptions,
} from "./transport.js";

/** Client options: transport knobs, where credentials come from, and which registries speak HTTP. */
export interface ClientOptions extends TransportOptions {
  /** Credential source; defaults to the upstream imager's (docker config, podman, GITHUB_TOKEN). */
  keychain?: Keychain;
  /** Plain-HTTP registries: `true` for all, or the hosts allowed to be insecure. Never implied. */
  insecure?: boolean | readonly string[];
  /** Upload blobs larger than this in PATCH chunks of this size (default 64 MiB; 0 = always monolithic). */
  chunkSize?: number;
  /** Largest manifest accepted, in bytes (default 4 MiB, as Distribution). */
  maxManifestBytes?: number;
}

/** Raw manifest bytes with their media type and (verified) digest. */
export interface ManifestData {
  bytes: Buffer;
  mediaType: string;
  digest: Digest;
}

/** A body that can be (re)opened for upload; `size` must be exact. */
export interface BlobBody {
  size: number;
  open(): Readable | Promise<Readable>;
}

const MAX_REDIRECTS = 5;
const MAX_TAG_PAGES = 10_000;

/** Talks the Distribution API v2 to any number of registries. */
export class RegistryClient {
  readonly #transport: Transport;
  readonly #auth: Authenticator;
  readonly #insecure: boolean | readonly string[];
  readonly #chunkSize: number;
  readonly #maxManifest: number;

  constructor(opts: ClientOptions = {}) {
    this.#transport = new Transport(opts);
    this.#auth = new Authenticator(opts.keychain ?? defaultKeychain(), this.#transport);
    this.#insecure = opts.insecure ?? false;
    this.#chunkSize = opts.chunkSize ?? 64 << 20;
    this.#maxManifest = opts.maxManifestBytes ?? 4 << 20;
  }

  /** Base URL of a registry's API (`https://host/v2/`). */
  baseUrl(registry: string): string {
    const insecure =
      this.#insecure === true || (Array.isArray(this.#insecure) && this.#insecure.includes(registry));
    return `${insecure ? "http" : "https"}://${registryApiHost(registry)}/v2/`;
  }

  /** Checks the registry answers the v2 API (authenticating if it asks to). */
  async ping(registry: string): Promise<void> {
    const res = await this.#request(registry, [], { method: "GET", url: this.baseUrl(registry) });
    await res.discard();
    if (res.status !== 200) throw statusError(res, `ping ${registry}`);
    this.#auth.markAnonymous(registry);
  }

  /** Fetches a manifest by tag or digest; by digest the bytes are verified, by tag the digest is computed. */
  async getManifest(ref: Reference, accept = MANIFEST_ACCEPT): Promise<ManifestData> {
    const target = ref.digest ?? ref.tag;
    if (!target)
      throw new BootforgeError("invalid-input", `reference ${formatReference(ref)} has no tag or digest`);
    const res = await this.#request(ref.registry, [pull(ref)], {
      method: "GET",
      url: this.#url(ref, `manifests/${target}`),
      headers: { accept },
    });
    if (res.status !== 200) {
      await res.discard();
      throw statusError(res, `manifest ${formatReference(ref)}`);
    }
    const bytes = await res.bytes(this.#maxManifest);
    const mediaType = parseManifest(bytes, res.headers.get("content-type") ?? undefined).mediaType;
    if (ref.digest) {
      const got = digestOfBytes(bytes, ref.digest);
      if (got !== ref.digest) {
        throw new BootforgeError(
          "dependency",
          `manifest ${formatReference(ref)}: digest mismatch, got ${got}`,
        );
      }
      return { bytes, mediaType, digest: ref.digest };
    }
    const digest = digestOfBytes(bytes);
    const header = res.headers.get("docker-content-digest");
    if (header && isDigest(header) && header.startsWith("sha256:") && header !== digest) {
      throw new BootforgeError(
        "dependency",
        `manifest ${formatReference(ref)}: registry says ${header} but the bytes hash to ${digest}`,
      );
    }
    return { bytes, mediaType, digest };
  }

  /** HEADs a manifest: its descriptor, or undefined when it does not exist. */
  async headManifest(ref: Reference, accept = MANIFEST_ACCEPT): Promise<Descriptor | undefined> {
    const target = ref.digest ?? ref.tag;
    if (!target)
      throw new BootforgeError("invalid-input", `reference ${formatReference(ref)} has no tag or digest`);
    const res = await this.#request(ref.registry, [pull(ref)], {
      method: "HEAD",
      url: this.#url(ref, `manifests/${target}`),
      headers: { accept },
    });
    await res.discard();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw statusError(res, `manifest ${formatReference(ref)}`);
    const digest = res.headers.get("docker-content-digest") ?? ref.digest;
    const size = Number(res.headers.get("content-length"));
    const mediaType = res.headers.get("content-type")?.split(";")[0]?.trim();
    if (!digest || !isDigest(digest) || !Number.isSafeInteger(size) || !mediaType) {
      // Some registries omit headers on HEAD; a GET tells us for certain.
      const m = await this.getManifest(ref, accept);
      return { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
    }
    return { mediaType, digest, size };
  }

  /** Uploads a manifest under `ref`'s tag (or its digest when untagged); returns its digest. */
  async putManifest(ref: Reference, bytes: Uint8Array, mediaType: string): Promise<Digest> {
    const digest = digestOfBytes(bytes);
    const target = ref.tag ?? ref.digest ?? digest;
    if (ref.digest && !ref.tag && ref.digest !== digest) {
      throw new BootforgeError("invalid-input", `manifest bytes hash to ${digest}, not ${ref.digest}`);
    }
    const res = await this.#request(ref.registry, [push(ref)], {
      method: "PUT",
      url: this.#url(ref, `manifests/${target}`),
      headers: { "content-type": mediaType },
      body: bytes,
    });
    const text = res.status === 201 || res.status === 200 ? "" : await readErrorBody(res);
    await res.discard();
    if (res.status !== 201 && res.status !== 200)
      throw statusError(res, `push manifest ${formatReference(ref)}`, text);
    return digest;
  }

  /** Deletes a manifest by digest (registries may refuse: 405). */
  async deleteManifest(ref: Reference & { digest: Digest }): Promise<void> {
    const res = await this.#request(ref.registry, [repositoryScope(ref.repository, ["delete"])], {
      method: "DELETE",
      url: this.#url(ref, `manifests/${ref.digest}`),
    });
    await res.discard();
    if (res.status !== 202 && res.status !== 200) throw statusError(res, `delete ${formatReference(ref)}`);
  }

  /** Streams a blob, following redirects (without credentials off-origin), verified against `desc`. */
  async blob(repo: Reference, desc: { digest: Digest; size?: number }): Promise<Readable> {
    parseDigest(desc.digest);
    let url = this.#url(repo, `blobs/${desc.digest}`);
    let sendAuth = true;
    const origin = new URL(url).origin;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const req: HttpRequest = { method: "GET", url, redirect: "manual" };
      const res = sendAuth
        ? await this.#request(repo.registry, [pull(repo)], req)
        : await this.#transport.send(req);
      if (res.status >= 300 && res.status < 400 && res.headers.get("location")) {
        await res.discard();
        url = new URL(res.headers.get("location") ?? "", url).toString();
        // Storage backends (S3, CDNs) get signed URLs; our registry token must not leak to them.
        sendAuth = sendAuth && new URL(url).origin === origin;
        continue;
      }
      if (res.status !== 200) {
        await res.discard();
        throw statusError(res, `blob ${desc.digest} of ${repo.registry}/${repo.repository}`);
      }
      const what = `blob ${desc.digest} of ${repo.registry}/${repo.repository}`;
      const verifier = new DigestVerifier(desc.digest, {
        ...(desc.size !== undefined ? { size: desc.size } : {}),
        what,
      });
      const body = res.stream();
      // pipe() does not forward errors; a failed read must fail the consumer's stream.
      body.on("error", (e) => verifier.destroy(e));
      return body.pipe(verifier);
    }
    throw new BootforgeError("dependency", `blob ${desc.digest}: more than ${MAX_REDIRECTS} redirects`);
  }

  /** Size of a blob if the repository has it, else undefined. */
  async headBlob(repo: Reference, digest: Digest): Promise<number | undefined> {
    const res = await this.#request(repo.registry, [pull(repo)], {
      method: "HEAD",
      url: this.#url(repo, `blobs/${digest}`),
    });
    await res.discard();
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw statusError(res, `blob ${digest}`);
    const n = Number(res.headers.get("content-length"));
    return Number.isSafeInteger(n) ? n : -1;
  }

  /** Tries a cross-repository mount of `digest` from `from`; true when the registry mounted it. */
  async mountBlob(repo: Reference, digest: Digest, from: string): Promise<boolean> {
    const url = `${this.#url(repo, "blobs/uploads/")}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
    const scopes = [push(repo), repositoryScope(from, ["pull"])];
    const res = await this.#request(repo.registry, scopes, { method: "POST", url });
    await res.discard();
    if (res.status === 201) return true;
    if (res.status === 202) {
      // The registry opened an upload instead; abandon it (best effort) and let the caller upload.
      const loc = res.headers.get("location");
      if (loc) {
        const del = await this.#request(repo.registry, [push(repo)], {
          method: "DELETE",
          url: new URL(loc, url).toString(),
        }).catch(() => undefined);
        await del?.discard();
      }
      return false;
    }
    throw statusError(res, `mount ${digest} from ${from}`);
  }

  /**
   * Uploads a blob unless the repository has it: mount from `mountFrom` if given, else monolithic PUT
   * (small blobs) or PATCH chunks. Restarts once from scratch on a transient failure.
   */
  async pushBlob(
    repo: Reference,
    digest: Digest,
    body: BlobBody,
    opts: { mountFrom?: string } = {},
  ): Promise<void> {
    parseDigest(digest);
    if ((await this.headBlob(repo, digest)) !== undefined) return;
    if (
      opts.mountFrom &&
      opts.mountFrom !== repo.repository &&
      (await this.mountBlob(repo, digest, opts.mountFrom))
    )
      return;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#upload(repo, digest, body);
        return;
      } catch (e) {
        if (
          attempt >= 1 ||
          !(e instanceof BootforgeError) ||
          e.kind !== "unavailable" ||
          e.message.endsWith(": cancelled")
        )
          throw e;
      }
    }
  }

  async #upload(repo: Reference, digest: Digest, body: BlobBody): Promise<void> {
    const start = this.#url(repo, "blobs/uploads/");
    const res = await this.#request(repo.registry, [push(repo)], {
      method: "POST",
      url: start,
      headers: { "content-length": "0" },
    });
    await res.discard();
    if (res.status !== 202) throw statusError(res, `start upload of ${digest}`);
    let location = uploadLocation(res, start);
    const src = await body.open();
    const verified = src.pipe(
      new DigestVerifier(digest, { size: body.size, what: `upload ${digest}`, kind: "io" }),
    );
    src.on("error", (e) => verified.destroy(e));
    const chunk = this.#chunkSize;
    try {
      if (chunk <= 0 || body.size <= chunk) {
        const put = await this.#request(repo.registry, [push(repo)], {
          method: "PUT",
          url: withQuery(location, "digest", digest),
          headers: { "content-type": "application/octet-stream", "content-length": String(body.size) },
          body: verified,
        });
        await finishPut(put, digest);
        return;
      }
      const slicer = new Slicer(verified);
      let offset = 0;
      for (let i = 0; offset < body.size && i < 1_000_000; i++) {
        const n = Math.min(chunk, body.size - offset);
        const patch = await this.#request(repo.registry, [push(repo)], {
          method: "PATCH",
          url: location,
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(n),
            "content-range": `${offset}-${offset + n - 1}`,
          },
          body: slicer.take(n),
        });
        await patch.discard();
        if (patch.status !== 202) throw statusError(patch, `upload chunk of ${digest}`);
        location = uploadLocation(patch, location);
        offset += n;
      }
      await slicer.end();
      const put = await this.#request(repo.registry, [push(repo)], {
        method: "PUT",
        url: withQuery(location, "digest", digest),
        headers: { "content-length": "0" },
      });
      await finishPut(put, digest);
    } finally {
      if (!src.destroyed) src.destroy();
    }
  }

  /** Lists a repository's tags, following `Link` pagination. */
  async listTags(repo: Reference, pageSize?: number): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = this.#url(repo, "tags/list") + (pageSize ? `?n=${pageSize}` : "");
    for (let page = 0; url && page < MAX_TAG_PAGES; page++) {
      const res = await this.#request(repo.registry, [pull(repo)], { method: "GET", url });
      if (res.status !== 200) {
        await res.discard();
        throw statusError(res, `tags of ${repo.registry}/${repo.repository}`);
      }
      const body = JSON.parse((await res.bytes(this.#maxManifest)).toString("utf8")) as {
        tags?: string[] | null;
      };
      for (const t of body.tags ?? []) tags.push(t);
      url = nextLink(res.headers.get("link"), url);
    }
    return tags;
  }

  /**
   * Referrers of a manifest (OCI 1.1): the referrers API, or the `sha256-<hex>` tag fallback for
   * registries without it. Filtered by `artifactType` when given.
   */
  async referrers(repo: Reference, digest: Digest, artifactType?: string): Promise<ImageIndex> {
    let url = this.#url(repo, `referrers/${digest}`);
    if (artifactType) url = withQuery(url, "artifactType", artifactType);
    const res = await this.#request(repo.registry, [pull(repo)], {
      method: "GET",
      url,
      headers: { accept: MediaTypes.ociIndex },
    });
    let index: ImageIndex | undefined;
    if (res.status === 200 && (res.headers.get("content-type") ?? "").startsWith(MediaTypes.ociIndex)) {
      const parsed = parseManifest(await res.bytes(this.#maxManifest), MediaTypes.ociIndex);
      if (parsed.kind === "index") index = parsed.index;
    } else {
      await res.discard();
      if (res.status !== 404 && res.status !== 200) throw statusError(res, `referrers of ${digest}`);
      const tag = `${digest.slice(0, digest.indexOf(":"))}-${digestHex(digest)}`;
      const ref: Reference = { registry: repo.registry, repository: repo.repository, tag };
      if (await this.headManifest(ref, MediaTypes.ociIndex)) {
        const parsed = parseManifest((await this.getManifest(ref, MediaTypes.ociIndex)).bytes);
        if (parsed.kind === "index") index = parsed.index;
      }
    }
    const manifests = (index?.manifests ?? []).filter(
      (d) => !artifactType || d.artifactType === artifactType,
    );
    return { schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests };
  }

  #url(ref: Reference, tail: string): string {
    return `${this.baseUrl(ref.registry)}${ref.repository}/${tail}`;
  }

  /** Sends with auth; on a 401 learns the challenge and tries exactly once more. */
  async #request(registry: string, scopes: readonly string[], req: HttpRequest): Promise<HttpResponse> {
    const replayable =
      req.body === undefined || typeof req.body === "string" || req.body instanceof Uint8Array;
    for (let attempt = 0; ; attempt++) {
      const auth = await this.#auth.authorization(registry, scopes);
      const headers = { ...req.headers, ...(auth ? { authorization: auth } : {}) };
      const res = await this.#transport.send({ ...req, headers });
      if (res.status !== 401 || attempt >= 1) {
        if (res.status === 401) {
          await res.discard();
          throw new BootforgeError(
            "dependency",
            `registry ${registry} denied access (${req.method} ${safeUrl(req.url)}): check credentials and permissions`,
          );
        }
        return res;
      }
      await res.discard();
      this.#auth.onChallenge(registry, res.headers.get("www-authenticate"), scopes);
      if (!replayable) {
        // A streamed body is gone; callers authenticate first (uploads start with a POST), so this is rare.
        throw new BootforgeError(
          "dependency",
          `registry ${registry} asked for authentication in the middle of an upload`,
        );
      }
    }
  }
}

const pull = (r: Reference) => repositoryScope(r.repository, ["pull"]);
const push = (r: Reference) => repositoryScope(r.repository, ["pull", "push"]);

function uploadLocation(res: HttpResponse, base: string): string {
  const loc = res.headers.get("location");
  if (!loc) throw new BootforgeError("dependency", `registry answered an upload without a Location header`);
  return new URL(loc, base).toString();
}

function withQuery(url: string, key: string, value: string): string {
  const u = new URL(url);
  u.searchParams.set(key, value);
  return u.toString();
}

async function finishPut(res: HttpResponse, digest: Digest): Promise<void> {
  const text = res.status === 201 ? "" : await readErrorBody(res);
  await res.discard();
  if (res.status !== 201) throw statusError(res, `finish upload of ${digest}`, text);
  const got = res.headers.get("docker-content-digest");
  if (got && got !== digest) throw new BootforgeError("dependency", `registry stored ${digest} as ${got}`);
}

function nextLink(link: string | null, current: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m?.[1]) return new URL(m[1], current).toString();
  }
  return undefined;
}

async function readErrorBody(res: HttpResponse): Promise<string> {
  try {
    const text = (await res.bytes(64 << 10)).toString("utf8");
    const j = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    return (j.errors ?? []).map((e) => `${e.code ?? ""} ${e.message ?? ""}`.trim()).join("; ");
  } catch {
    return "";
  }
}

/** Maps a registry status to an error with the right kind. */
function statusError(res: HttpResponse, what: string, detail = ""): BootforgeError {
  const tail = detail ? `: ${detail}` : "";
  if (res.status === 404) return new BootforgeError("not-found", `${what}: not found${tail}`);
  if (res.status === 401 || res.status === 403)
    return new BootforgeError("dependency", `${what}: access denied (HTTP ${res.status})${tail}`);
  if (res.status === 429 || res.status >= 500)
    return new BootforgeError("unavailable", `${what}: registry unavailable (HTTP ${res.status})${tail}`);
  return new BootforgeError("dependency", `${what}: registry answered HTTP ${res.status}${tail}`);
}

/** Cuts one stream into consecutive exact-length sub-streams for PATCH chunks, without buffering a chunk. */
class Slicer {
  readonly #it: AsyncIterator<Buffer>;
  #pending: Buffer | undefined;

  constructor(src: Readable) {
    this.#it = src[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  /** The next `n` bytes as an async iterable. */
  take(n: number): AsyncIterable<Uint8Array> {
    const next = () => this.#it.next();
    const pending = (b?: Buffer) => {
      const old = this.#pending;
      this.#pending = b;
      return old;
    };
    return {
      async *[Symbol.asyncIterator]() {
        let left = n;
        while (left > 0) {
          let buf = pending();
          if (!buf) {
            const r = await next();
            if (r.done) throw new BootforgeError("io", "upload source ended early");
            buf = r.value;
          }
          if (buf.length > left) {
            pending(buf.subarray(left));
            buf = buf.subarray(0, left);
          }
          left -= buf.length;
          yield buf;
        }
      },
    };
  }

  /** Drains the source so the digest verifier gets to check the end. */
  async end(): Promise<void> {
    if (this.#pending?.length) throw new BootforgeError("io", "upload source longer than declared");
    for (let r = await this.#it.next(); !r.done; r = await this.#it.next()) {
      if (r.value.length) throw new BootforgeError("io", "upload source longer than declared");
    }
  }
}

/**
 * The registry auth handshake: parse `WWW-Authenticate` challenges, answer Basic ones with the
 * keychain's credentials and Bearer ones with a token from the realm, scoped to the repositories
 * and actions at hand and cached until it expires.
 */
import { BootforgeError } from "../errors/index.js";
import type { Credential, Keychain } from "./credentials.js";
import { safeUrl, type Transport } from "./transport.js";

/** One parsed challenge, e.g. `Bearer realm="…",service="…",scope="…"`. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses a `WWW-Authenticate` header into its challenges (RFC 7235 auth-params, quoted strings). */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = () => {
    while (i < n && (header[i] === " " || header[i] === "\t" || header[i] === ",")) i++;
  };
  const token = () => {
    const start = i;
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(header[i] ?? "")) i++;
    return header.slice(start, i);
  };
  let guard = 0;
  while (i < n && guard++ < 1000) {
    skip();
    const word = token();
    if (!word) {
      i++;
      continue;
    }
    while (header[i] === " ") i++;
    if (header[i] === "=" && out.length > 0) {
      i++;
      while (header[i] === " ") i++;
      let value = "";
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === "\\" && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        const start = i;
        while (i < n && header[i] !== "," && header[i] !== " ") i++;
        value = header.slice(start, i);
      }
      const last = out[out.length - 1];
      if (last) last.params[word.toLowerCase()] = value;
    } else {
      out.push({ scheme: word.toLowerCase(), params: {} });
    }
  }
  return out;
}

/** A Distribution token scope, e.g. `repository:siderolabs/installer:pull,push`. */
export function repositoryScope(
  repository: string,
  actions: readonly ("pull" | "push" | "delete")[],
): string {
  return `repository:${repository}:${actions.join(",")}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

type RegistryAuth =
  { scheme: "none" } | { scheme: "basic" } | { scheme: "bearer"; realm: string; service?: string };

/** Per-client auth state: which scheme each registry wants, and cached bearer tokens. */
export class Authenticator {
  readonly #keychain: Keychain;
  readonly #transport: Transport;
  readonly #registries = new Map<string, RegistryAuth>();
  readonly #tokens = new Map<string, CachedToken>();
  readonly #creds = new Map<string, Promise<Credential | undefined>>();
  readonly #now: () => number;

  constructor(keychain: Keychain, transport: Transport, now: () => number = Date.now) {
    this.#keychain = keychain;
    this.#transport = transport;
    this.#now = now;
  }

  /** The Authorization header for a request to `registry` needing `scopes`, if the scheme is known. */
  async authorization(registry: string, scopes: readonly string[]): Promise<string | undefined> {
    const a = this.#registries.get(registry);
    if (!a || a.scheme === "none") return undefined;
    if (a.scheme === "basic") {
      const c = await this.#credential(registry);
      if (!c) throw noCredentials(registry);
      return basicHeader(c, registry);
    }
    const key = `${registry}\n${[...scopes].sort().join(" ")}`;
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > this.#now()) return `Bearer ${cached.token}`;
    const t = await this.#fetchToken(registry, a.realm, a.service, scopes);
    this.#tokens.set(key, t);
    return `Bearer ${t.token}`;
  }

  /** Learns from a 401: records the challenged scheme and drops the cached token for `scopes`. */
  onChallenge(registry: string, header: string | null, scopes: readonly string[]): void {
    const challenges = header ? parseWwwAuthenticate(header) : [];
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    let next: RegistryAuth;
    if (bearer?.params.realm) {
      next = {
        scheme: "bearer",
        realm: bearer.params.realm,
        ...(bearer.params.service ? { service: bearer.params.service } : {}),
      };
    } else if (basic) {
      next = { scheme: "basic" };
    } else {
      throw new BootforgeError(
        "dependency",
        `registry ${registry} asked for authentication without a usable challenge`,
      );
    }
    this.#registries.set(registry, next);
    this.#tokens.delete(`${registry}\n${[...scopes].sort().join(" ")}`);
  }

  /** Marks `registry` as answering without auth (its /v2/ ping returned 200). */
  markAnonymous(registry: string): void {
    if (!this.#registries.has(registry)) this.#registries.set(registry, { scheme: "none" });
  }

  #credential(registry: string): Promise<Credential | undefined> {
    let p = this.#creds.get(registry);
    if (!p) {
      p = this.#keychain.resolve(registry);
      this.#creds.set(registry, p);
    }
    return p;
  }

  async #fetchToken(
    registry: string,
    realm: string,
    service: string | undefined,
    scopes: readonly string[],
  ): Promise<CachedToken> {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new BootforgeError("dependency", `registry ${registry} sent an invalid token realm`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new BootforgeError(
        "dependency",
        `registry ${registry} sent a token realm with an unsupported scheme`,
      );
    }
    const cred = await this.#credential(registry);
    let res;
    if (cred && "identityToken" in cred) {
      // OAuth2 refresh-token grant, as Docker does for `identitytoken` entries.
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: cred.identityToken,
        client_id: "bootforge",
      });
      if (service) form.set("service", service);
      if (scopes.length) form.set("scope", scopes.join(" "));
      res = await this.#transport.send({
        method: "POST",
        url: url.toString(),
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
    } else {
      if (service) url.searchParams.set("service", service);
      for (const s of scopes) url.searchParams.append("scope", s);
      const headers: Record<string, string> = {};
      if (cred) headers.authorization = basicHeader(cred, registry);
      res = await this.#transport.send({ method: "GET", url: url.toString(), headers });
    }
    if (res.status === 401 || res.status === 403) {
      await res.discard();
      throw new BootforgeError(
        "dependency",
        cred
          ? `token service ${safeUrl(realm)} rejected the credentials for ${registry}`
          : `token service ${safeUrl(realm)} requires credentials for ${registry}; none were found`,
      );
    }
    if (res.status !== 200) {
      await res.discard();
      throw new BootforgeError("dependency", `token service ${safeUrl(realm)} answered HTTP ${res.status}`);
    }
    let body: { token?: string; access_token?: string; expires_in?: number; issued_at?: string };
    try {
      body = JSON.parse((await res.bytes(1 << 20)).toString("utf8")) as typeof body;
    } catch {
      throw new BootforgeError("dependency", `token service ${safeUrl(realm)} answered with invalid JSON`);
    }
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "") {
      throw new BootforgeError("dependency", `token service ${safeUrl(realm)} answered without a token`);
    }
    // Spec default lifetime is 60 s; renew a little early so a token never expires mid-request.
    const lifetime = typeof body.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
    const issued = body.issued_at ? Date.parse(body.issued_at) : NaN;
    const start = Number.isFinite(issued) ? Math.min(issued, this.#now()) : this.#now();
    return { token, expiresAt: start + Math.max(1, lifetime - 10) * 1000 };
  }
}

function basicHeader(c: Credential, registry: string): string {
  if ("identityToken" in c) {
    throw new BootforgeError(
      "environment",
      `registry ${registry} wants Basic auth but only an identity token is configured`,
    );
  }
  return "Basic " + Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64");
}

function noCredentials(registry: string): BootforgeError {
  return new BootforgeError(
    "dependency",
    `registry ${registry} requires authentication and no credentials were found (docker config, podman auth.json, GITHUB_TOKEN)`,
  );
}

/**
 * Where registry credentials come from, in the order the upstream imager's keychain uses:
 * Docker's config (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, with `credHelpers`
 * and `credsStore` helpers), Podman's auth file, then `GITHUB_TOKEN` for ghcr.io.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { BootforgeError } from "../errors/index.js";
import { DOCKER_HUB } from "./reference.js";

/** A username and password (or token), or an OAuth2 refresh token (`identitytoken`). */
export type Credential = { username: string; password: string } | { identityToken: string };

/** Looks up credentials for a registry host (`ghcr.io`, `docker.io`, `127.0.0.1:5000`). */
export interface Keychain {
  /** Credentials for `registry`, or undefined for anonymous access. */
  resolve(registry: string): Promise<Credential | undefined>;
}

/** A keychain that never has credentials. */
export const anonymousKeychain: Keychain = { resolve: () => Promise.resolve(undefined) };

/** A keychain over a fixed map of registry host → credential (tests, explicit flags). */
export function staticKeychain(map: Record<string, Credential>): Keychain {
  return { resolve: (registry) => Promise.resolve(map[registry]) };
}

/** The first keychain with an answer wins. */
export function multiKeychain(...chains: Keychain[]): Keychain {
  return {
    async resolve(registry) {
      for (const k of chains) {
        const c = await k.resolve(registry);
        if (c) return c;
      }
      return undefined;
    },
  };
}

/** Environment the default keychain reads; injectable for tests. */
export interface KeychainEnv {
  env?: NodeJS.ProcessEnv;
  home?: string;
  /** Milliseconds a credential helper may run (default 20 s). */
  helperTimeoutMs?: number;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Docker config, Podman auth file, then GITHUB_TOKEN for ghcr.io — the upstream imager's sources. */
export function defaultKeychain(opts: KeychainEnv = {}): Keychain {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const dockerDir = env.DOCKER_CONFIG ?? join(home, ".docker");
  const podmanFile =
    env.REGISTRY_AUTH_FILE ??
    (env.XDG_RUNTIME_DIR ? join(env.XDG_RUNTIME_DIR, "containers", "auth.json") : undefined);
  const timeout = opts.helperTimeoutMs ?? 20_000;
  const chains: Keychain[] = [authFileKeychain(join(dockerDir, "config.json"), env, timeout)];
  if (podmanFile) chains.push(authFileKeychain(podmanFile, env, timeout));
  chains.push(githubKeychain(env));
  return multiKeychain(...chains);
}

/** `GITHUB_TOKEN` for ghcr.io (username is ignored by GitHub; the ecosystem sends `unset`). */
export function githubKeychain(env: NodeJS.ProcessEnv = process.env): Keychain {
  return {
    resolve: (registry) =>
      Promise.resolve(
        registry === "ghcr.io" && env.GITHUB_TOKEN
          ? { username: "unset", password: env.GITHUB_TOKEN }
          : undefined,
      ),
  };
}

/** Credentials from one Docker-format auth file (Docker's config.json or Podman's auth.json). */
export function authFileKeychain(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  helperTimeoutMs = 20_000,
): Keychain {
  return {
    async resolve(registry) {
      const file = await readAuthFile(path);
      if (!file) return undefined;
      const helper = findByHost(file.credHelpers ?? {}, registry) ?? file.credsStore;
      if (helper) {
        const c = await runCredentialHelper(helper, serverUrlFor(registry), env, helperTimeoutMs);
        if (c) return c;
      }
      const entry = findByHost(file.auths ?? {}, registry);
      if (!entry) return undefined;
      if (entry.identitytoken) return { identityToken: entry.identitytoken };
      if (entry.auth) {
        const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
        const i = decoded.indexOf(":");
        if (i < 0) throw new BootforgeError("environment", `${path}: malformed auth entry for ${registry}`);
        return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
      if (entry.username !== undefined && entry.password !== undefined) {
        return { username: entry.username, password: entry.password };
      }
      return undefined;
    },
  };
}

async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new BootforgeError("environment", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === "object" && v !== null ? v : undefined;
  } catch {
    // Never echo the file: it holds secrets.
    throw new BootforgeError("environment", `${path} is not valid JSON`);
  }
}

const HUB_ALIASES = new Set([DOCKER_HUB, "index.docker.io", "registry-1.docker.io"]);

/** Config keys are written as hosts or URLs (`https://index.docker.io/v1/`); compare hosts. */
function keyHost(key: string): string {
  let k = key.trim().toLowerCase();
  k = k.replace(/^[a-z]+:\/\//, "");
  const slash = k.indexOf("/");
  if (slash >= 0) k = k.slice(0, slash);
  return HUB_ALIASES.has(k) ? DOCKER_HUB : k;
}

function findByHost<T>(map: Record<string, T>, registry: string): T | undefined {
  const want = keyHost(registry);
  for (const [k, v] of Object.entries(map)) if (keyHost(k) === want) return v;
  return undefined;
}

function serverUrlFor(registry: string): string {
  return keyHost(registry) === DOCKER_HUB ? "https://index.docker.io/v1/" : registry;
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin (the helper protocol). */
export function runCredentialHelper(
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 20_000,
): Promise<Credential | undefined> {
  if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
    return Promise.reject(
      new BootforgeError("environment", `invalid credential helper name ${JSON.stringify(helper)}`),
    );
  }
  const bin = `docker-credential-${helper}`;
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["get"], { env, stdio: ["pipe", "pipe", "pipe"], timeout: timeoutMs });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      reject(
        new BootforgeError(
          "environment",
          e.code === "ENOENT"
            ? `credential helper ${bin} is configured but not installed`
            : `credential helper ${bin} failed to start`,
        ),
      );
    });
    child.on("close", (code) => {
      const stdout = Buffer.concat(out).toString("utf8").trim();
      if (code !== 0) {
        // The protocol reports a missing entry as a message on stdout; that is "anonymous", not a failure.
        if (
          /credentials not found/i.test(stdout) ||
          /credentials not found/i.test(Buffer.concat(err).toString())
        ) {
          resolve(undefined);
          return;
        }
        // Helper output may contain secrets: report only the exit code.
        reject(
          new BootforgeError("environment", `credential helper ${bin} exited with code ${String(code)}`),
        );
        return;
      }
      try {
        const v = JSON.parse(stdout) as { Username?: string; Secret?: string };
        if (typeof v.Secret !== "string" || v.Secret === "") {
          resolve(undefined);
          return;
        }
        resolve(
          v.Username === "<token>"
            ? { identityToken: v.Secret }
            : { username: v.Username ?? "", password: v.Secret },
        );
      } catch {
        reject(new BootforgeError("environment", `credential helper ${bin} printed invalid JSON`));
      }
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(serverUrl);
  });
}

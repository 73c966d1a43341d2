/**
 * Factory configuration: defaults ← config file (YAML or JSON) ← `BOOTFORGE_*` environment ←
 * command-line overrides. Every key is validated; unknown keys are errors that name the key,
 * so a typo never silently falls back to a default.
 */
import { readFile } from "node:fs/promises";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { invalidInput } from "../errors/index.js";

const url = z
  .string()
  .refine((s) => /^https?:\/\/[^/]+/.test(s), "must be an http(s) URL with a host")
  .transform((s) => (s.endsWith("/") ? s : `${s}/`));

/** A string value that environment parsing may have turned into a number (a numeric password). */
const secret = z.union([z.string(), z.number().transform(String)]);

/** Username and password come together; a password is given once (inline or as a file). */
function credentialRules(
  v: { username?: string | undefined; password?: string | undefined; passwordFile?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  const hasPassword = v.password !== undefined || v.passwordFile !== undefined;
  if (v.password !== undefined && v.passwordFile !== undefined)
    ctx.addIssue({ code: "custom", path: ["password"], message: "give password or passwordFile, not both" });
  if (hasPassword !== (v.username !== undefined))
    ctx.addIssue({
      code: "custom",
      path: ["username"],
      message: "username and password (or passwordFile) must be given together",
    });
}

const schema = z
  .object({
    http: z
      .object({
        /** host:port to listen on. */
        listen: z.string().default("127.0.0.1:8080"),
        externalURL: url.optional(),
        externalPXEURL: url.optional(),
        allowedOrigins: z.array(z.string()).default(["*"]),
        /** PEM certificate (chain) and key: serve HTTPS, reloading them when the files change. */
        certFile: z.string().optional(),
        keyFile: z.string().optional(),
      })
      .strict()
      .superRefine((v, ctx) => {
        // Upstream serves TLS when either is set; one without the other cannot work.
        if (Boolean(v.certFile) !== Boolean(v.keyFile))
          ctx.addIssue({
            code: "custom",
            path: [v.certFile ? "keyFile" : "certFile"],
            message: "http.certFile and http.keyFile must be given together",
          });
      })
      .prefault({}),
    metrics: z
      .object({
        /**
         * host:port of a separate metrics listener (then /metrics leaves the main port); empty
         * turns metrics off, as upstream; unset keeps /metrics on the main port.
         */
        addr: z.string().optional(),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        /** `dir` (embedded) or `registry` (scale-out). */
        kind: z.enum(["dir", "registry"]).default("dir"),
        dir: z.string().default("work/factory"),
        /** `host[:port]` of the registry backend. */
        registry: z.string().optional(),
        /** Repository prefix in the registry backend (`<namespace>/schematics`, `<namespace>/cache`). */
        namespace: z.string().default("bootforge"),
        insecure: z.boolean().default(false),
        /** Registry credentials (else docker/podman config and GITHUB_TOKEN, as the imager). */
        username: secret.optional(),
        password: secret.optional(),
        /** File holding the password (first line), so it need not sit in the config or environment. */
        passwordFile: z.string().optional(),
      })
      .strict()
      .superRefine(credentialRules)
      .prefault({}),
    release: z
      .object({
        /** Where Talos releases come from: an OCI layout directory or a registry host. */
        source: z.enum(["demo", "layout", "registry"]).default("demo"),
        layout: z.string().optional(),
        registry: z.string().default("ghcr.io"),
        namespace: z.string().default(""),
        insecure: z.boolean().default(false),
        /** Registry credentials (else docker/podman config and GITHUB_TOKEN, as the imager). */
        username: secret.optional(),
        password: secret.optional(),
        /** File holding the password (first line), so it need not sit in the config or environment. */
        passwordFile: z.string().optional(),
      })
      .strict()
      .superRefine(credentialRules)
      .prefault({}),
    build: z
      .object({
        minTalosVersion: z.string().default("1.2.0"),
        brokenTalosVersions: z.array(z.string()).default([]),
        maxConcurrency: z.number().int().min(1).max(64).default(2),
        maxQueue: z.number().int().min(0).max(10000).default(32),
        timeoutSeconds: z.number().int().min(1).default(1200),
        /** Seconds clients are told to wait (Retry-After) when the build queue is full. */
        retryAfterSeconds: z.number().int().min(1).default(10),
      })
      .strict()
      .prefault({}),
    secureBoot: z
      .object({
        /** Unset: off, except in the demo, which makes and enables its own keys. */
        enabled: z.boolean().optional(),
        keysDir: z.string().optional(),
        /** Upstream's `secureBoot.file.*`: the three files instead of a keys directory. */
        signingKeyPath: z.string().optional(),
        signingCertPath: z.string().optional(),
        pcrKeyPath: z.string().optional(),
      })
      .strict()
      .superRefine((v, ctx) => {
        const files = [v.signingKeyPath, v.signingCertPath, v.pcrKeyPath].filter((f) => f);
        if (files.length > 0 && files.length < 3)
          ctx.addIssue({
            code: "custom",
            path: ["signingKeyPath"],
            message: "signingKeyPath, signingCertPath and pcrKeyPath must be given together",
          });
        if (files.length > 0 && v.keysDir)
          ctx.addIssue({
            code: "custom",
            path: ["keysDir"],
            message: "give keysDir or the key files (signingKeyPath, signingCertPath, pcrKeyPath), not both",
          });
      })
      .prefault({}),
    cache: z
      .object({
        /**
         * PEM private key (ECDSA as upstream; PKCS#8 or SEC1) that signs registry cache entries
         * and installer indexes, cosign-compatible; its public key is `/oci/cosign/signing-key.pub`.
         */
        signingKeyPath: z.string().optional(),
      })
      .strict()
      .prefault({}),
    containerSignature: z
      .object({
        /** Skip verification of release images (upstream's explicit opt-out). */
        disabled: z.boolean().default(false),
        /** PEM public key release images may be signed with instead (key-based, offline). */
        publicKeyFile: z.string().optional(),
        publicKeyHashAlgo: z.enum(["sha256", "sha384", "sha512"]).default("sha256"),
        /** Keyless: certificate identity regexp (default: Sidero's release identity, as upstream). */
        subjectRegExp: z.string().optional(),
        /** Keyless: exact OIDC issuer (default `https://accounts.google.com`, as upstream). */
        issuer: z.string().optional(),
        /** Keyless: OIDC issuer regexp; wins over `issuer`. */
        issuerRegExp: z.string().optional(),
        /** Keyless: `trusted_root.json` (default: the public-good root shipped with sigstore-js). */
        trustedRootFile: z.string().optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type FactoryConfig = z.output<typeof schema>;
export type RawConfig = Record<string, unknown>;

/** Resolved configuration with derived URLs filled in. */
export interface ResolvedConfig extends FactoryConfig {
  http: FactoryConfig["http"] & { externalURL: string; externalPXEURL: string };
}

/** All leaf paths of the schema, for environment-variable mapping (BOOTFORGE_HTTP_EXTERNALURL → http.externalURL). */
function leafPaths(): string[][] {
  const out: string[][] = [];
  for (const [section, sub] of Object.entries(schema.shape)) {
    // Sections are objects behind prefault and, for some, a refinement.
    let inner = (sub as unknown as { def: { innerType: z.ZodType } }).def.innerType;
    while (!(inner instanceof z.ZodObject)) inner = (inner as unknown as { def: { in: z.ZodType } }).def.in;
    for (const key of Object.keys(inner.shape)) out.push([section, key]);
  }
  return out;
}

/** Every Bootforge configuration key, `section.key`. */
export const CONFIG_KEYS: readonly string[] = leafPaths().map((p) => p.join("."));

/** Sets `value` at `path` in `obj`, making (or replacing non-object) sections on the way. */
export function setPath(obj: RawConfig, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    const next = cur[p];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cur[p] = {};
    cur = cur[p] as RawConfig;
  }
  cur[path[path.length - 1]!] = value;
}

/** Environment values: JSON for arrays/objects/booleans/numbers, otherwise the raw string. */
export function envValue(raw: string): unknown {
  const t = raw.trim();
  if (/^[[{]/.test(t) || t === "true" || t === "false" || /^-?\d+$/.test(t)) {
    try {
      return JSON.parse(t) as unknown;
    } catch {
      return raw;
    }
  }
  return raw;
}

/**
 * Variables other Bootforge tools read (imager cache, fixture builder, launcher, tests): never
 * configuration, so a shell that sets them can still start the factory.
 */
export const TOOL_VARIABLES: ReadonlySet<string> = new Set([
  "BOOTFORGE_SHARED",
  "BOOTFORGE_CONFIG",
  "BOOTFORGE_CACHE_DIR",
  "BOOTFORGE_DIST",
  "BOOTFORGE_FIXTURES_OUT",
  "BOOTFORGE_FIXTURES_OUT_LARGE",
  "BOOTFORGE_FIXTURES_CACHE",
  "BOOTFORGE_FIXTURES_LOCK",
  "BOOTFORGE_GRUB_DIR",
  "BOOTFORGE_RELEASE_SOURCE",
  "BOOTFORGE_TEST_RELEASE",
  // The tool launcher's tuning applies to the factory's builds too (README).
  "BOOTFORGE_TOOL_CONCURRENCY",
  "BOOTFORGE_TOOL_LAUNCHER",
  "BOOTFORGE_CHECKLIST_FULL",
  "BOOTFORGE_FUZZ_SEED",
]);

/** Applies `BOOTFORGE_<SECTION>_<KEY>` variables; other unknown BOOTFORGE_ variables are errors. */
export function configFromEnv(env: NodeJS.ProcessEnv): RawConfig {
  const byName = new Map(leafPaths().map((p) => [`BOOTFORGE_${p.join("_").toUpperCase()}`, p]));
  const out: RawConfig = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("BOOTFORGE_") || value === undefined) continue;
    if (TOOL_VARIABLES.has(name)) continue;
    const path = byName.get(name);
    if (path === undefined) throw invalidInput(`unknown configuration variable ${name}`);
    setPath(out, path, envValue(value));
  }
  return out;
}

function merge(a: RawConfig, b: RawConfig): RawConfig {
  const out: RawConfig = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      typeof v === "object" && v !== null && !Array.isArray(v) && typeof prev === "object" && prev !== null
        ? merge(prev as RawConfig, v as RawConfig)
        : v;
  }
  return out;
}

/** Validates layered raw configuration into a resolved config. */
export function resolveConfig(...layers: RawConfig[]): ResolvedConfig {
  const merged = layers.reduce(merge, {});
  const r = schema.safeParse(merged);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.join(".");
    const msg =
      issue.code === "unrecognized_keys"
        ? `unknown configuration key ${[where, issue.keys[0]].filter(Boolean).join(".")}`
        : `configuration ${where}: ${issue.message}`;
    throw invalidInput(msg);
  }
  const c = r.data;
  const [host, port] = splitListen(c.http.listen);
  const scheme = c.http.certFile ? "https" : "http";
  const externalURL =
    c.http.externalURL ?? `${scheme}://${host === "0.0.0.0" || host === "::" ? "localhost" : host}:${port}/`;
  return { ...c, http: { ...c.http, externalURL, externalPXEURL: c.http.externalPXEURL ?? externalURL } };
}

/** Splits `host:port` (IPv6 in brackets), validating the port. */
export function splitListen(listen: string): [string, number] {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535)
    throw invalidInput(`configuration http.listen: expected host:port, got ${JSON.stringify(listen)}`);
  return [m[1] ?? (m[2] || "0.0.0.0"), port];
}

/** Reads a YAML or JSON config file. */
export async function configFromFile(path: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw invalidInput(`cannot read configuration file ${path}: ${(e as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text, { uniqueKeys: true, prettyErrors: true });
  } catch (e) {
    throw invalidInput(`configuration file ${path}: ${(e as Error).message}`);
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data))
    throw invalidInput(`configuration file ${path}: expected a mapping`);
  return data as RawConfig;
}

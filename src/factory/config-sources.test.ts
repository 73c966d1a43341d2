import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { resolveConfig } from "./config.js";
import { loadConfigSources, parseConfigSources } from "./config-sources.js";
import { parseLogLevel } from "./logger.js";
import { UPSTREAM_KEYS } from "./upstream-keys.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-config-sources-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

async function load(config: string[], env: NodeJS.ProcessEnv = {}) {
  const l = await loadConfigSources(parseConfigSources(config), env);
  return { config: resolveConfig(l.implied, ...l.layers), warnings: l.warnings };
}

// Upstream's own example shape (hack/dev/config.yaml, its Helm values): upstream names only.
const UPSTREAM_YAML = `
http:
  httpListenAddr: ":9090"
  externalURL: https://factory.example.com
  certFile: /etc/tls/tls.crt
  keyFile: /etc/tls/tls.key
build:
  minTalosVersion: 1.10.0
  maxConcurrency: 4
containerSignature:
  publicKeyFile: /etc/image-factory/release.pub
  publicKeyHashAlgo: sha256
cache:
  oci:
    registry: registry.local:5000
    namespace: image-factory
    repository: cache
    insecure: true
  signingKeyPath: /etc/image-factory/cache-signing-key.key
  s3:
    enabled: false
  cdn:
    host: https://cdn.example.com
metrics:
  addr: ":2122"
secureBoot:
  enabled: true
  file:
    signingKeyPath: /sb/key.pem
    signingCertPath: /sb/cert.pem
    pcrKeyPath: /sb/pcr.pem
artifacts:
  core:
    registry: mirror.local:5000
    insecure: true
    components:
      imager: siderolabs/imager
authentication:
  enabled: false
  htpasswdPath: /etc/image-factory/htpasswd
`;

test("an upstream configuration file means the same in Bootforge", async () => {
  const { config: c, warnings } = await load([await file("upstream.yaml", UPSTREAM_YAML)]);
  assert.equal(c.http.listen, ":9090");
  assert.equal(c.http.externalURL, "https://factory.example.com/");
  assert.equal(c.http.certFile, "/etc/tls/tls.crt");
  assert.equal(c.http.keyFile, "/etc/tls/tls.key");
  assert.equal(c.build.minTalosVersion, "1.10.0");
  assert.equal(c.build.maxConcurrency, 4);
  assert.equal(c.containerSignature.publicKeyFile, "/etc/image-factory/release.pub");
  assert.equal(c.cache.signingKeyPath, "/etc/image-factory/cache-signing-key.key");
  // Upstream always caches in its OCI registry: naming one selects Bootforge's registry store.
  assert.deepEqual(
    [c.storage.kind, c.storage.registry, c.storage.namespace, c.storage.insecure],
    ["registry", "registry.local:5000", "image-factory", true],
  );
  assert.equal(c.metrics.addr, ":2122");
  assert.deepEqual(
    [
      c.secureBoot.enabled,
      c.secureBoot.signingKeyPath,
      c.secureBoot.signingCertPath,
      c.secureBoot.pcrKeyPath,
    ],
    [true, "/sb/key.pem", "/sb/cert.pem", "/sb/pcr.pem"],
  );
  assert.deepEqual(
    [c.release.source, c.release.registry, c.release.insecure],
    ["registry", "mirror.local:5000", true],
  );
  // Unimplemented keys: one warning each, naming the key and why; values that mean what
  // Bootforge does anyway (s3 off, auth off, upstream's component names) pass quietly.
  assert.deepEqual(warnings, [
    "cache.cdn.host: Bootforge serves cached assets itself (no CDN redirects)",
    "authentication.htpasswdPath: an Enterprise edition feature upstream; Bootforge has no Enterprise features",
  ]);
});

test("IF_* variables load as upstream maps them (case-insensitive, typed like koanf's weak decoding)", async () => {
  const { config: c, warnings } = await load([], {
    IF_HTTP_HTTPLISTENADDR: "127.0.0.1:9191",
    IF_HTTP_EXTERNALURL: "https://if.example.com",
    IF_HTTP_ALLOWEDORIGINS: '["https://a.example","https://b.example"]',
    IF_BUILD_MINTALOSVERSION: "1.11.0",
    IF_BUILD_MAXCONCURRENCY: "3",
    IF_BUILD_BROKENTALOSVERSIONS: "1.11.1,1.11.2",
    IF_CONTAINERSIGNATURE_PUBLICKEYFILE: "/keys/release.pub",
    IF_CONTAINERSIGNATURE_DISABLED: "F",
    IF_CACHE_SIGNINGKEYPATH: "/keys/cache.key",
    IF_SECUREBOOT_ENABLED: "false",
    IF_CONTAINERSIGNATURE_SUBJECTREGEXP: "@example\\.com$",
    IF_CONTAINERSIGNATURE_ISSUER: "https://issuer.example.com",
    IF_CACHE_CDN_ENABLED: "true",
    PATH: "/usr/bin",
  });
  assert.equal(c.http.listen, "127.0.0.1:9191");
  assert.equal(c.http.externalURL, "https://if.example.com/");
  assert.deepEqual(c.http.allowedOrigins, ["https://a.example", "https://b.example"]);
  assert.equal(c.build.minTalosVersion, "1.11.0");
  assert.equal(c.build.maxConcurrency, 3);
  assert.deepEqual(c.build.brokenTalosVersions, ["1.11.1", "1.11.2"]);
  assert.equal(c.containerSignature.publicKeyFile, "/keys/release.pub");
  assert.equal(c.containerSignature.disabled, false);
  assert.equal(c.cache.signingKeyPath, "/keys/cache.key");
  assert.equal(c.secureBoot.enabled, false);
  assert.equal(c.containerSignature.subjectRegExp, "@example\\.com$");
  assert.equal(c.containerSignature.issuer, "https://issuer.example.com");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^cache\.cdn\.enabled: /);
});

test("an unimplemented key given in several sources warns once", async () => {
  const yaml = await file("twice.yaml", "cache:\n  cdn:\n    host: https://cdn.example.com\n");
  const { warnings } = await load([yaml, yaml], { IF_CACHE_CDN_HOST: "https://cdn2.example.com" });
  assert.deepEqual(warnings, ["cache.cdn.host: Bootforge serves cached assets itself (no CDN redirects)"]);
});

test("--config forms: file, file=, env=PREFIX, comma-separated and repeated; later ones override; IF_ first", async () => {
  const a = await file("a.yaml", "http:\n  externalURL: https://a.example\nbuild:\n  maxConcurrency: 5\n");
  const b = await file("b.json", JSON.stringify({ build: { maxConcurrency: 6, minTalosVersion: "1.9.0" } }));
  const e = await file("c.env", "# dotenv\nbuild.minTalosVersion=1.12.0\n");
  const env = { IF_BUILD_MAXCONCURRENCY: "7", MY_BUILD_MAXCONCURRENCY: "8" };
  // The default env=IF_ comes before every --config source.
  assert.equal((await load([a], env)).config.build.maxConcurrency, 5);
  assert.equal((await load([`${a},file=${b}`], env)).config.build.maxConcurrency, 6);
  assert.equal((await load([b, a], env)).config.build.maxConcurrency, 5);
  assert.equal((await load([`${a},env=MY_`], env)).config.build.maxConcurrency, 8);
  assert.equal((await load([`${a},env=IF_`], env)).config.build.maxConcurrency, 7);
  const all = (await load([a, `${b},${e}`], env)).config;
  assert.equal(all.build.minTalosVersion, "1.12.0");
  assert.equal(all.http.externalURL, "https://a.example/");
  assert.deepEqual(parseConfigSources(["x.yaml,env=", "file=y.json"]), [
    { kind: "file", path: "x.yaml" },
    { kind: "env", prefix: "" },
    { kind: "file", path: "y.json" },
  ]);
  assert.throws(() => parseConfigSources(["vault=x"]), /unsupported config provider: vault/);
  assert.throws(() => parseConfigSources([""]), /must not be empty/);
});

test("Bootforge's own keys stay; the same setting under both names is an error naming both", async () => {
  const own = await file("own.yaml", "http:\n  listen: 127.0.0.1:7000\nbuild:\n  maxQueue: 3\n");
  const c = (await load([own])).config;
  assert.equal(c.http.listen, "127.0.0.1:7000");
  assert.equal(c.build.maxQueue, 3);
  const both = await file("both.yaml", "http:\n  listen: 127.0.0.1:7000\n  httpListenAddr: :8080\n");
  await assert.rejects(
    load([both]),
    /configuration http\.listen and http\.httpListenAddr are the same setting/,
  );
  // Across sources too: upstream's variable and Bootforge's.
  await assert.rejects(
    load([own], { IF_HTTP_HTTPLISTENADDR: ":8080" }),
    /configuration http\.httpListenAddr and http\.listen are the same setting/,
  );
  await assert.rejects(
    load([], { IF_CACHE_OCI_NAMESPACE: "x", BOOTFORGE_STORAGE_NAMESPACE: "y" }),
    /cache\.oci\.namespace and storage\.namespace/,
  );
  // An explicit choice beats what an upstream key implies.
  const explicit = await file("kind.yaml", "storage:\n  kind: dir\ncache:\n  oci:\n    registry: r.local\n");
  assert.equal((await load([explicit])).config.storage.kind, "dir");
});

test("unknown keys stay errors, in files and under a variable prefix", async () => {
  const typo = await file("typo.yaml", "http:\n  httpListenAdr: :80\n");
  await assert.rejects(load([typo]), /unknown configuration key http\.httpListenAdr \(in .*typo\.yaml\)/);
  // hack/dev/config.yaml has this key, which upstream does not know either.
  const dev = await file("dev.yaml", "enterprise:\n  vex:\n    cacheTTL: 15s\n");
  await assert.rejects(load([dev]), /unknown configuration key enterprise\.vex\.cacheTTL/);
  await assert.rejects(load([], { IF_HTTP_LISTN: "x" }), /unknown configuration variable IF_HTTP_LISTN/);
  await assert.rejects(
    load([], { IF_BUILD_MAXCONCURRENCY: "many" }),
    /build\.maxConcurrency: expected a int/,
  );
  await assert.rejects(
    load([await file("half.yaml", "http:\n  certFile: /c.pem\n")]),
    /http\.keyFile: http\.certFile and http\.keyFile must be given together/,
  );
  // With an empty prefix every process variable is a candidate: only known keys are taken.
  assert.equal(
    (await load(["env="], { PATH: "/bin", BUILD_MAXCONCURRENCY: "9" })).config.build.maxConcurrency,
    9,
  );
});

test("defaults stay Bootforge's", async () => {
  const { config: c } = await load([]);
  assert.equal(c.http.listen, "127.0.0.1:8080");
  assert.equal(c.build.maxConcurrency, 2);
  assert.equal(c.metrics.addr, undefined);
  assert.equal(c.secureBoot.enabled, undefined);
  // With TLS files the derived external URL is https.
  const tls = await file(
    "tls.yaml",
    "http:\n  httpListenAddr: 127.0.0.1:8443\n  certFile: c.pem\n  keyFile: k.pem\n",
  );
  assert.equal((await load([tls])).config.http.externalURL, "https://127.0.0.1:8443/");
});

test("every upstream key is documented in the table with a Bootforge key or a reason", () => {
  for (const [key, entry] of UPSTREAM_KEYS) {
    assert.match(key, /^[a-z][A-Za-z0-9]*(\.[a-z][A-Za-z0-9]*)+$/, key);
    if ("to" in entry) assert.match(entry.to, /^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$/, key);
    else assert.ok(entry.unsupported.length > 10, key);
  }
});

test("--log-level takes zap's level names", () => {
  for (const l of ["debug", "info", "warn", "error", "dpanic", "panic", "fatal", "WARN"])
    assert.ok(parseLogLevel(l), l);
  assert.equal(parseLogLevel("verbose"), undefined);
});

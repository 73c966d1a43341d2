import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { configFromEnv, resolveConfig, splitListen } from "./config.js";

test("defaults resolve with derived URLs", () => {
  const c = resolveConfig();
  assert.equal(c.http.listen, "127.0.0.1:8080");
  assert.equal(c.http.externalURL, "http://127.0.0.1:8080/");
  assert.equal(c.http.externalPXEURL, "http://127.0.0.1:8080/");
  assert.deepEqual(c.http.allowedOrigins, ["*"]);
  assert.equal(c.build.minTalosVersion, "1.2.0");
});

test("environment overrides file, file overrides defaults", () => {
  const file = { http: { externalURL: "https://factory.example.com" }, build: { maxConcurrency: 3 } };
  const env = configFromEnv({
    BOOTFORGE_BUILD_MAXCONCURRENCY: "4",
    BOOTFORGE_HTTP_ALLOWEDORIGINS: '["https://a.example"]',
    PATH: "/bin",
  });
  const c = resolveConfig(file, env);
  assert.equal(c.build.maxConcurrency, 4);
  assert.equal(c.http.externalURL, "https://factory.example.com/");
  assert.deepEqual(c.http.allowedOrigins, ["https://a.example"]);
});

test("unknown keys and bad values are named", () => {
  assert.throws(() => resolveConfig({ http: { listn: ":80" } }), /unknown configuration key http\.listn/);
  assert.throws(() => resolveConfig({ htp: {} }), /unknown configuration key htp/);
  // Bootforge's own schema has no cloud KMS signers (no cloud credentials to test them with);
  // upstream's keys for them only warn, through the configuration loader (upstream-keys.ts).
  for (const kms of ["azureKeyVault", "awsKMS"])
    assert.throws(
      () => resolveConfig({ secureBoot: { enabled: true, [kms]: {} } }),
      new RegExp(`unknown configuration key secureBoot\\.${kms}`),
    );
  assert.throws(
    () => configFromEnv({ BOOTFORGE_HTTP_LISTN: "x" }),
    /unknown configuration variable BOOTFORGE_HTTP_LISTN/,
  );
  assert.throws(
    () => resolveConfig({ http: { externalURL: "ftp://x" } }),
    /http\.externalURL: must be an http/,
  );
  assert.throws(() => resolveConfig({ build: { maxConcurrency: 0 } }), /build\.maxConcurrency/);
  assert.throws(() => resolveConfig({ http: { listen: "nope" } }), /http\.listen/);
});

test("listen addresses", () => {
  assert.deepEqual(splitListen("127.0.0.1:9000"), ["127.0.0.1", 9000]);
  assert.deepEqual(splitListen(":8080"), ["0.0.0.0", 8080]);
  assert.deepEqual(splitListen("[::1]:80"), ["::1", 80]);
  assert.throws(() => splitListen("host:99999"));
});

test("registry credentials: from file or environment, given together, password once", () => {
  const env = configFromEnv({
    BOOTFORGE_RELEASE_USERNAME: "mirror",
    BOOTFORGE_RELEASE_PASSWORD: "123456",
    BOOTFORGE_STORAGE_USERNAME: "store",
    BOOTFORGE_STORAGE_PASSWORDFILE: "/run/secrets/registry",
  });
  const c = resolveConfig(env);
  // A numeric password stays the string it was in the environment.
  assert.equal(c.release.password, "123456");
  assert.equal(c.release.username, "mirror");
  assert.equal(c.storage.passwordFile, "/run/secrets/registry");
  assert.throws(
    () => resolveConfig({ release: { password: "x" } }),
    /release\.username: username and password/,
  );
  assert.throws(() => resolveConfig({ storage: { username: "u" } }), /storage\.username/);
  assert.throws(
    () => resolveConfig({ release: { username: "u", password: "p", passwordFile: "f" } }),
    /release\.password: give password or passwordFile, not both/,
  );
});

test("every BOOTFORGE_ variable the code reads is a setting or a tool variable: none stops the factory", () => {
  // A variable the imager, the launcher or the fixture builder reads must not make the factory
  // refuse to start (BOOTFORGE_TOOL_CONCURRENCY once did, though the README promises it).
  const repo = join(import.meta.dirname, "..", "..");
  const names = new Set<string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!["node_modules", "testdata", ".cache"].includes(e.name)) walk(p);
      } else if (/\.(ts|js|sh)$/.test(e.name) && !e.name.endsWith(".test.ts")) {
        for (const m of readFileSync(p, "utf8").matchAll(/BOOTFORGE_[A-Z0-9_]+/g)) names.add(m[0]);
      }
    }
  };
  for (const d of ["src", "fixtures", "bench", "bin", "scripts", "test"]) walk(join(repo, d));
  assert.ok(names.has("BOOTFORGE_TOOL_CONCURRENCY") && names.size > 10, [...names].join(" "));
  for (const name of names) assert.doesNotThrow(() => configFromEnv({ [name]: "1" }), name);
});

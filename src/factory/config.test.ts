import { test } from "node:test";
import assert from "node:assert/strict";
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

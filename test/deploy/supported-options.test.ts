/**
 * Every factory configuration key the README's table lists as Bootforge's is accepted (never an
 * "unknown key" or "unsupported" refusal) and lands in the resolved configuration with the value
 * given. The keys are read from the README itself, so a key it promises without a case here fails.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../../src/factory/config.js";

type RawConfig = Record<string, unknown>;
import { REPO_ROOT } from "../helpers/shared.js";

/** The first column of the README's configuration table, each entry expanded to `section.key`. */
async function readmeKeys(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const rows = readme.split("\n").filter((l) => l.startsWith("| `") && l.includes("|"));
  const keys: string[] = [];
  for (const row of rows) {
    const first = row.split("|")[1] ?? "";
    let section = "";
    for (const [, name] of first.matchAll(/`([^`]+)`/g)) {
      if (name!.includes(".")) {
        section = name!.slice(0, name!.indexOf("."));
        keys.push(name!);
      } else keys.push(`${section}.${name}`);
    }
  }
  return [...new Set(keys)].sort();
}

/** A valid value for each key, with the companions a key needs to be meaningful. */
const CASES: Record<string, { value: unknown; with?: Record<string, unknown> }> = {
  "http.listen": { value: "127.0.0.1:9999" },
  "http.externalURL": { value: "https://factory.example.com/" },
  "http.externalPXEURL": { value: "https://pxe.example.com/" },
  "http.allowedOrigins": { value: ["https://a.example"] },
  "http.certFile": { value: "/etc/bootforge/tls.crt", with: { "http.keyFile": "/etc/bootforge/tls.key" } },
  "http.keyFile": { value: "/etc/bootforge/tls.key", with: { "http.certFile": "/etc/bootforge/tls.crt" } },
  "metrics.addr": { value: "127.0.0.1:2122" },
  "storage.kind": { value: "registry", with: { "storage.registry": "127.0.0.1:5000" } },
  "storage.dir": { value: "/var/lib/bootforge" },
  "storage.registry": { value: "127.0.0.1:5000", with: { "storage.kind": "registry" } },
  "storage.namespace": { value: "fleet", with: { "storage.kind": "registry", "storage.registry": "r:5000" } },
  "storage.insecure": { value: true, with: { "storage.kind": "registry", "storage.registry": "r:5000" } },
  "storage.username": {
    value: "u",
    with: { "storage.kind": "registry", "storage.registry": "r:5000", "storage.password": "p" },
  },
  "storage.password": {
    value: "p",
    with: { "storage.kind": "registry", "storage.registry": "r:5000", "storage.username": "u" },
  },
  "storage.passwordFile": {
    value: "/run/secrets/p",
    with: { "storage.kind": "registry", "storage.registry": "r:5000", "storage.username": "u" },
  },
  "release.source": { value: "registry" },
  "release.layout": { value: "/srv/release", with: { "release.source": "layout" } },
  "release.registry": { value: "mirror.example.com", with: { "release.source": "registry" } },
  "release.namespace": { value: "siderolabs", with: { "release.source": "registry" } },
  "release.insecure": { value: true, with: { "release.source": "registry" } },
  "release.username": { value: "u", with: { "release.source": "registry", "release.password": "p" } },
  "release.password": { value: "p", with: { "release.source": "registry", "release.username": "u" } },
  "release.passwordFile": {
    value: "/run/secrets/p",
    with: { "release.source": "registry", "release.username": "u" },
  },
  "build.minTalosVersion": { value: "1.9.0" },
  "build.brokenTalosVersions": { value: ["1.10.1"] },
  "build.maxConcurrency": { value: 4 },
  "build.maxQueue": { value: 8 },
  "build.timeoutSeconds": { value: 600 },
  "build.retryAfterSeconds": { value: 5 },
  "secureBoot.enabled": { value: true, with: { "secureBoot.keysDir": "/etc/bootforge/sb" } },
  "secureBoot.keysDir": { value: "/etc/bootforge/sb", with: { "secureBoot.enabled": true } },
  "secureBoot.signingKeyPath": {
    value: "/sb/key.pem",
    with: {
      "secureBoot.enabled": true,
      "secureBoot.signingCertPath": "/sb/cert.pem",
      "secureBoot.pcrKeyPath": "/sb/pcr.pem",
    },
  },
  "secureBoot.signingCertPath": {
    value: "/sb/cert.pem",
    with: {
      "secureBoot.enabled": true,
      "secureBoot.signingKeyPath": "/sb/key.pem",
      "secureBoot.pcrKeyPath": "/sb/pcr.pem",
    },
  },
  "secureBoot.pcrKeyPath": {
    value: "/sb/pcr.pem",
    with: {
      "secureBoot.enabled": true,
      "secureBoot.signingKeyPath": "/sb/key.pem",
      "secureBoot.signingCertPath": "/sb/cert.pem",
    },
  },
  "cache.signingKeyPath": { value: "/etc/bootforge/cache.key" },
  "containerSignature.subjectRegExp": { value: "@example\\.com$" },
  "containerSignature.issuer": { value: "https://issuer.example.com" },
  "containerSignature.issuerRegExp": { value: "^https://issuer\\." },
  "containerSignature.trustedRootFile": { value: "/etc/bootforge/trusted_root.json" },
  "containerSignature.publicKeyFile": { value: "/etc/bootforge/release.pub" },
  "containerSignature.publicKeyHashAlgo": { value: "sha256" },
  "containerSignature.disabled": { value: true },
};

function nested(flat: Record<string, unknown>): RawConfig {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [k, v] of Object.entries(flat)) {
    const [section, key] = k.split(".") as [string, string];
    (out[section] ??= {})[key] = v;
  }
  return out;
}

test("every configuration key the README's table lists is covered here", async () => {
  assert.deepEqual(await readmeKeys(), Object.keys(CASES).sort());
});

test("every configuration key the README lists is accepted and resolved to the value given", () => {
  for (const [key, c] of Object.entries(CASES)) {
    let resolved: unknown;
    try {
      resolved = resolveConfig(nested({ ...c.with, [key]: c.value }));
    } catch (e) {
      assert.fail(`${key} is refused: ${(e as Error).message}`);
    }
    const [section, name] = key.split(".") as [string, string];
    const got = (resolved as Record<string, Record<string, unknown>>)[section]?.[name];
    // URLs are normalised with a trailing slash; everything else comes back as given.
    assert.deepEqual(got, c.value, `${key} resolved to ${JSON.stringify(got)}`);
  }
});

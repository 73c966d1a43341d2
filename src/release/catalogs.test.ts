import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readVectors, sharedPath } from "../../test/helpers/shared.js";
import { parseExtensionsCatalog, parseOverlaysCatalog, repoWithNamespace } from "./catalogs.js";
import { brokenVersions, findServed, latestStable, servedVersions } from "./versions.js";

interface CatalogVectors {
  extractExtensionList: Array<{
    test: string;
    archive: Record<string, string>;
    registry: string;
    namespace: string;
    expected: Array<Record<string, string>>;
    expectedCount: number;
  }>;
  repoWithNamespace: Array<{ registry: string; namespace: string; repo: string; expected: string }>;
}

const v = readVectors<CatalogVectors>("catalogs/extension-catalog.json");

test("ExtractExtensionList vectors", () => {
  for (const c of v.extractExtensionList) {
    const got = parseExtensionsCatalog(
      c.archive["image-digests"] ?? "",
      c.archive["descriptions.yaml"],
      c.registry,
      c.namespace,
    );
    assert.equal(got.length, c.expectedCount, c.test);
    c.expected.forEach((exp, i) => {
      const g = got[i]!;
      if (exp.repository !== undefined) assert.equal(g.name, exp.repository, c.test);
      if (exp.registry !== undefined) assert.ok(g.ref.startsWith(`${exp.registry}/`), c.test);
      if (exp.pullReference !== undefined) assert.equal(g.pullReference, exp.pullReference, c.test);
      if (exp.digest !== undefined) assert.equal(g.digest, exp.digest, c.test);
      if (exp.author !== undefined) assert.equal(g.author, exp.author, c.test);
      if (exp.description !== undefined) assert.equal(g.description, exp.description, c.test);
    });
  }
});

test("RepoWithNamespace vectors", () => {
  for (const c of v.repoWithNamespace)
    assert.equal(repoWithNamespace(c.registry, c.namespace, c.repo), c.expected);
});

test("the upstream catalog fixture files parse", () => {
  const digests = readFileSync(sharedPath("vectors", "catalogs", "extensions", "image-digests"), "utf8");
  const desc = readFileSync(sharedPath("vectors", "catalogs", "extensions", "descriptions.yaml"), "utf8");
  const got = parseExtensionsCatalog(digests, desc, "localhost:5100", "");
  assert.equal(got.length, 1);
  assert.equal(got[0]!.name, "extension-testing/my-extension");
  assert.equal(got[0]!.tag, "v1.0.0");
  assert.equal(got[0]!.author, "TEST");
  assert.equal(got[0]!.description, "[core] TESTESTEST\n");
});

test("malformed catalogs are named errors", () => {
  assert.throws(
    () => parseExtensionsCatalog("ghcr.io/x@sha256:zz\n", undefined, "r", ""),
    /malformed image-digests line/,
  );
  assert.throws(
    () => parseExtensionsCatalog("a@sha256:" + "0".repeat(64), "[1", "r", ""),
    /descriptions\.yaml/,
  );
  assert.throws(() => parseOverlaysCatalog("foo: 1"), /missing `overlays` list/);
  assert.throws(() => parseOverlaysCatalog("overlays: [{name: 1}]"), /entry 0/);
});

test("overlays catalog", () => {
  const got = parseOverlaysCatalog(
    "overlays:\n  - name: rpi_generic\n    image: ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0\n    digest: sha256:abc\n",
  );
  assert.deepEqual(got, [
    {
      name: "rpi_generic",
      image: "siderolabs/sbc-raspberrypi",
      ref: "ghcr.io/siderolabs/sbc-raspberrypi:v0.1.0",
      digest: "sha256:abc",
    },
  ]);
});

test("served versions follow upstream rules", () => {
  const tags = [
    "v1.1.0",
    "v1.2.0",
    "v1.9.4",
    "v1.10.0-alpha.1",
    "v1.11.0",
    "v1.12.0-beta.1",
    "v1.12.0-alpha.2",
    "v1.12.0-custom",
    "v1.12.0-alpha.1.1",
    "latest",
    "v1.11.0",
    "v1.10.2",
  ];
  const policy = { minTalosVersion: "1.2.0", brokenTalosVersions: ["1.10.2"] };
  assert.deepEqual(
    servedVersions(tags, policy).map((s) => s.tag),
    ["v1.2.0", "v1.9.4", "v1.11.0", "v1.12.0-alpha.2", "v1.12.0-beta.1"],
  );
  assert.deepEqual(
    brokenVersions(tags, policy).map((s) => s.tag),
    ["v1.10.2"],
  );
  assert.equal(latestStable(servedVersions(tags, policy))?.tag, "v1.11.0");
  const served = servedVersions(tags, policy);
  assert.equal(findServed(served, "1.11.0")?.tag, "v1.11.0");
  assert.equal(findServed(served, "v1.11"), undefined);
  assert.equal(findServed(served, "v1.5.0-alpha.0"), undefined);
  assert.deepEqual(servedVersions([], policy), []);
});

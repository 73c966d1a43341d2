import assert from "node:assert/strict";
import { chmod, mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isBootforgeError } from "../errors/index.js";
import { parseWwwAuthenticate } from "./auth.js";
import { defaultKeychain } from "./credentials.js";
import { parsePlatform, platformMatches } from "./platform.js";
import { formatReference, parseReference } from "./reference.js";

test("references parse like the ecosystem", () => {
  const cases: [string, string][] = [
    ["alpine", "docker.io/library/alpine:latest"],
    ["index.docker.io/foo/bar:1", "docker.io/foo/bar:1"],
    ["ghcr.io/siderolabs/installer:v1.10.0", "ghcr.io/siderolabs/installer:v1.10.0"],
    ["localhost:5000/a/b", "localhost:5000/a/b:latest"],
    ["127.0.0.1:5000/x@sha256:" + "a".repeat(64), "127.0.0.1:5000/x@sha256:" + "a".repeat(64)],
    ["foo/bar:t@sha256:" + "b".repeat(64), "docker.io/foo/bar:t@sha256:" + "b".repeat(64)],
  ];
  for (const [input, want] of cases) assert.equal(formatReference(parseReference(input)), want, input);
  for (const bad of ["", "UPPER/case", "a:b:c/d", "x@sha256:short", "ghcr.io/a/b:bad tag"]) {
    assert.throws(
      () => parseReference(bad),
      (e) => isBootforgeError(e, "invalid-input"),
      bad,
    );
  }
});

test("platforms normalise variants", () => {
  assert.ok(
    platformMatches(parsePlatform("linux/arm64"), { os: "linux", architecture: "arm64", variant: "v8" }),
  );
  assert.ok(platformMatches(parsePlatform("arm64"), { os: "linux", architecture: "aarch64" }));
  assert.ok(
    !platformMatches(parsePlatform("linux/arm/v6"), { os: "linux", architecture: "arm", variant: "v7" }),
  );
  assert.ok(!platformMatches(parsePlatform("linux/amd64"), { os: "linux", architecture: "arm64" }));
});

test("WWW-Authenticate challenges parse", () => {
  const c = parseWwwAuthenticate(
    'Bearer realm="https://auth.example/token",service="registry",scope="repository:a/b:pull,push", Basic realm="x"',
  );
  assert.equal(c.length, 2);
  assert.deepEqual(c[0], {
    scheme: "bearer",
    params: { realm: "https://auth.example/token", service: "registry", scope: "repository:a/b:pull,push" },
  });
  assert.equal(c[1]?.scheme, "basic");
});

test("credentials: DOCKER_CONFIG, podman auth.json, credential helpers, GITHUB_TOKEN", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-creds-"));
  try {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    await mkdir(join(dir, "docker"));
    await mkdir(join(dir, "run", "containers"), { recursive: true });
    await mkdir(join(dir, "bin"));
    await writeFile(
      join(dir, "docker", "config.json"),
      JSON.stringify({
        auths: { "https://index.docker.io/v1/": { auth: b64("hub:pw") } },
        credHelpers: { "helped.example": "fake" },
      }),
    );
    await writeFile(
      join(dir, "run", "containers", "auth.json"),
      JSON.stringify({ auths: { "quay.io": { auth: b64("pod:man") } } }),
    );
    const helper = join(dir, "bin", "docker-credential-fake");
    await writeFile(
      helper,
      '#!/bin/sh\nread url\necho "{\\"ServerURL\\":\\"$url\\",\\"Username\\":\\"h\\",\\"Secret\\":\\"from-helper\\"}"\n',
    );
    await chmod(helper, 0o755);
    const env = {
      DOCKER_CONFIG: join(dir, "docker"),
      XDG_RUNTIME_DIR: join(dir, "run"),
      GITHUB_TOKEN: "gh-token",
      PATH: `${join(dir, "bin")}:${process.env.PATH ?? ""}`,
    };
    const k = defaultKeychain({ env, home: join(dir, "nohome") });
    assert.deepEqual(await k.resolve("docker.io"), { username: "hub", password: "pw" });
    assert.deepEqual(await k.resolve("quay.io"), { username: "pod", password: "man" });
    assert.deepEqual(await k.resolve("helped.example"), { username: "h", password: "from-helper" });
    assert.deepEqual(await k.resolve("ghcr.io"), { username: "unset", password: "gh-token" });
    assert.equal(await k.resolve("other.example"), undefined);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

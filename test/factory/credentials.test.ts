/**
 * Registry credentials from the factory configuration: a storage registry behind htpasswd Basic
 * auth (Debian docker-registry) is usable with `storage.username` + `storage.passwordFile`, and a
 * wrong password is a clear error rather than a silent anonymous fallback.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { startFactory } from "./harness.js";

describe("registry credentials from the configuration", () => {
  let reg: TestRegistry;
  let dir = "";
  before(async () => {
    reg = await startRegistry("basic");
    dir = await mkdtemp(join(tmpdir(), "bootforge-creds-"));
  });
  after(async () => {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("a Basic-auth storage registry works with username and passwordFile", async () => {
    const passwordFile = join(dir, "password");
    await writeFile(passwordFile, `${reg.password}\n`);
    const storage = {
      kind: "registry",
      registry: reg.host,
      namespace: "creds",
      insecure: true,
      username: reg.username,
      passwordFile,
    };
    const f = await startFactory({ storage });
    try {
      const created = await fetch(`${f.url}/schematics`, {
        method: "POST",
        body: "customization:\n  extraKernelArgs:\n    - creds=1\n",
      });
      assert.equal(created.status, 201, await created.clone().text());
      const { id } = (await created.json()) as { id: string };
      const got = await fetch(`${f.url}/schematics/${id}`);
      assert.equal(got.status, 200);
      assert.match(await got.text(), /creds=1/);
    } finally {
      await f.stop();
    }
  });

  it("a wrong password fails the request with an error naming the registry", async () => {
    const storage = {
      kind: "registry",
      registry: reg.host,
      namespace: "creds",
      insecure: true,
      username: reg.username,
      password: `${reg.password}-wrong`,
    };
    const f = await startFactory({ storage });
    try {
      const created = await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
      const body = await created.text();
      assert.ok(created.status >= 500, `status ${created.status}: ${body}`);
      assert.match(body, new RegExp(reg.host.replace(/\./g, "\\.")));
    } finally {
      await f.stop();
    }
  });
});

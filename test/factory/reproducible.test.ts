/**
 * Factory reproducibility: one schematic (an extension, a kernel argument) built as every asset
 * kind the factory serves — metal ISO, SecureBoot ISO, metal raw.zst, qcow2, Azure vhd.xz, VMware
 * ova, UKI, SecureBoot UKI and the installer image pulled through /v2 — by a factory on fresh
 * storage; then a second factory on another fresh storage (the cache emptied, the same
 * SOURCE_DATE_EPOCH, keys and external URL) builds them all again: every asset is byte-identical
 * and the installer index has the same digest.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { generateSecureBootKeys } from "../../src/imager/secureboot/keys.js";
import { limiter } from "../../src/imager/tools/limiter.js";
import { startFactory, type TestFactory } from "./harness.js";

const VERSION = "v1.11.0";
const SCHEMATIC = [
  "customization:",
  "  extraKernelArgs:",
  "    - bootforge.reproducible=1",
  "  systemExtensions:",
  "    officialExtensions:",
  "      - siderolabs/bootforge-hello",
  "",
].join("\n");
/** Part of every asset (the virtual `schematic` extension names it): the same for both factories. */
const EXTERNAL_URL = "http://factory.bootforge.test/";

/** Every asset kind, by the file name the factory serves it under; the slowest two first. */
const ASSETS = [
  "metal-amd64.raw.zst",
  "azure-amd64.vhd.xz",
  "metal-amd64.iso",
  "metal-amd64-secureboot.iso",
  "metal-amd64.qcow2",
  "vmware-amd64.ova",
  "metal-amd64-uki.efi",
  "metal-amd64-secureboot-uki.efi",
];
const INSTALLER = "installer (/v2 metal-installer index digest)";

let scratch = "";
let keysDir = "";
const factories: TestFactory[] = [];
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), "bootforge-reproducible-"));
  keysDir = join(scratch, "keys");
  await generateSecureBootKeys(keysDir, { ukiBits: 2048 });
});
after(async () => {
  for (const f of factories) await f.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** Builds every kind with a factory on fresh storage `name`; the sha256 of each, and timings. */
async function buildAll(name: string): Promise<{ digests: Map<string, string>; ms: Map<string, number> }> {
  const f = await startFactory(
    { secureBoot: { enabled: true, keysDir }, build: { maxConcurrency: 2 } },
    { dir: join(scratch, name) },
  );
  factories.push(f);
  f.factory.services.config.http.externalURL = EXTERNAL_URL;
  const created = await fetch(`${f.url}/schematics`, { method: "POST", body: SCHEMATIC });
  assert.equal(created.status, 201);
  const { id } = (await created.json()) as { id: string };
  const digests = new Map<string, string>();
  const ms = new Map<string, number>();
  const limit = limiter(2);
  const timed = async (what: string, work: () => Promise<string>) => {
    const t = Date.now();
    digests.set(what, await work());
    ms.set(what, Date.now() - t);
  };
  await Promise.all([
    ...ASSETS.map((file) =>
      limit(() =>
        timed(file, async () => {
          const r = await fetch(`${f.url}/image/${id}/${VERSION}/${file}`);
          const body = Buffer.from(await r.arrayBuffer());
          assert.equal(r.status, 200, `${name} ${file}: ${body.toString("utf8", 0, 400)}`);
          assert.ok(body.length > 4096, `${name} ${file}: ${body.length} bytes`);
          return createHash("sha256").update(body).digest("hex");
        }),
      ),
    ),
    limit(() =>
      timed(INSTALLER, async () => {
        const r = await fetch(`${f.url}/v2/metal-installer/${id}/manifests/${VERSION}`, {
          headers: { accept: "application/vnd.oci.image.index.v1+json" },
        });
        const body = Buffer.from(await r.arrayBuffer());
        assert.equal(r.status, 200, `${name} installer: ${body.toString("utf8", 0, 400)}`);
        const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
        assert.equal(r.headers.get("docker-content-digest"), digest);
        return digest;
      }),
    ),
  ]);
  await f.stop();
  factories.splice(factories.indexOf(f), 1);
  return { digests, ms };
}

it("every asset kind rebuilt from an emptied cache is byte-identical (ISO, SecureBoot ISO, raw.zst, qcow2, vhd.xz, ova, UKI, SecureBoot UKI, installer digest)", async () => {
  const first = await buildAll("first");
  // A new storage directory: no asset, layer, extracted release image or installer survives.
  const second = await buildAll("second");
  for (const what of [...ASSETS, INSTALLER])
    console.log(
      `reproducible: ${what} ${first.digests
        .get(what)
        ?.replace(/^sha256:/, "")
        .slice(0, 16)} ` + `(${first.ms.get(what)} ms, again ${second.ms.get(what)} ms)`,
    );
  assert.deepEqual(second.digests, first.digests);
  // Distinct kinds are distinct bytes (a stand-in answering every kind alike would not pass).
  assert.equal(new Set(first.digests.values()).size, ASSETS.length + 1);
});

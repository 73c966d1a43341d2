/**
 * Installer images built by the imager pipeline from the fixture release: two layers (base
 * installer, boot artifacts), UKI-era files in the artifacts layer (`usr/install/<arch>/vmlinuz.efi`,
 * `systemd-boot.efi`) and `usr/bin/installer` in the base; then the /v2 front end's `skopeo copy`
 * of `metal-installer/<id>:v1.11.0` for both architectures from one OCI index.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { EMPTY_ID, startFactory, type TestFactory } from "./harness.js";

const run = promisify(execFile);

interface Manifest {
  layers: { digest: string; mediaType: string }[];
}

const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, "utf8")) as T;
const blobOf = (layout: string, digest: string) => join(layout, "blobs", ...digest.split(":"));

/** The single image of an OCI layout: two layers, `usr/bin/installer` in the base, UKI-era artifacts. */
async function checkImage(layout: string, arch: string): Promise<void> {
  const root = await readJson<{ manifests: { digest: string }[] }>(join(layout, "index.json"));
  const manifest = await readJson<Manifest>(blobOf(layout, root.manifests[0]!.digest));
  assert.equal(manifest.layers.length, 2, "base installer + artifacts");
  const base = await layerFiles(blobOf(layout, manifest.layers[0]!.digest));
  assert.ok(base.includes("usr/bin/installer"), `${arch} base: ${base.join(" ")}`);
  const arts = await layerFiles(blobOf(layout, manifest.layers[1]!.digest));
  for (const file of [`usr/install/${arch}/vmlinuz.efi`, `usr/install/${arch}/systemd-boot.efi`]) {
    assert.ok(arts.includes(file), `${arch} artifacts: ${arts.join(" ")}`);
  }
}

/** File names in a (possibly gzip-compressed) layer blob. */
async function layerFiles(blob: string): Promise<string[]> {
  const { stdout } = await run("tar", ["-tf", blob], { maxBuffer: 16 << 20 });
  return stdout.split("\n").map((l) => l.replace(/^\.\//, "").replace(/\/$/, ""));
}

describe("installer registry on the real pipeline", () => {
  let f: TestFactory;
  let out = "";
  before(async () => {
    out = await mkdtemp(join(tmpdir(), "bootforge-installer-pull-"));
    f = await startFactory();
    assert.equal((await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" })).status, 201);
  });
  after(async () => {
    await f.stop();
    await rm(out, { recursive: true, force: true });
  });

  it("installer-amd64.tar: a docker-archive with upstream's two layers and files", async () => {
    const r = await fetch(`${f.url}/image/${EMPTY_ID}/v1.11.0/installer-amd64.tar`);
    assert.equal(r.status, 200);
    const tarball = join(out, "installer-amd64.tar");
    await writeFile(tarball, Buffer.from(await r.arrayBuffer()));
    const dest = join(out, "amd64");
    await run("skopeo", ["copy", `docker-archive:${tarball}`, `oci:${dest}:x`], { timeout: 120_000 });
    await checkImage(dest, "amd64");
  });

  it("skopeo copies metal-installer/<id>:v1.11.0 for amd64 and arm64 from one index", {}, async () => {
    const host = f.url.replace(/^http:\/\//, "");
    const ref = `docker://${host}/metal-installer/${EMPTY_ID}:v1.11.0`;
    const dest = join(out, "all");
    await run("skopeo", ["copy", "--all", "--src-tls-verify=false", ref, `oci:${dest}:x`], {
      timeout: 300_000,
    });
    const root = await readJson<{ manifests: { digest: string }[] }>(join(dest, "index.json"));
    const index = await readJson<{
      mediaType: string;
      manifests: { digest: string; platform: { os: string; architecture: string } }[];
    }>(blobOf(dest, root.manifests[0]!.digest));
    assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(
      index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      ["linux/amd64", "linux/arm64"],
    );
  });

  it("tags/list of an installer repository: skopeo inspect and list-tags, spec paging, oci tags", async () => {
    const host = f.url.replace(/^http:\/\//, "");
    const repo = `metal-installer/${EMPTY_ID}`;
    const versions = ((await (await fetch(`${f.url}/versions`)).json()) as string[]).sort();
    const all = [...versions, "latest"].sort();
    // skopeo inspect reads the tag list before the manifest: it used to fail with a 404 here.
    const { stdout: inspected } = await run(
      "skopeo",
      ["inspect", "--tls-verify=false", `docker://${host}/${repo}:v1.11.0`],
      { timeout: 300_000, maxBuffer: 16 << 20 },
    );
    assert.deepEqual(((JSON.parse(inspected) as { RepoTags: string[] }).RepoTags ?? []).sort(), all);
    const { stdout: listed } = await run("skopeo", [
      "list-tags",
      "--tls-verify=false",
      `docker://${host}/${repo}`,
    ]);
    assert.deepEqual((JSON.parse(listed) as { Tags: string[] }).Tags.sort(), all);
    // Paging as the distribution spec says: n per page, last to resume, Link to the next page.
    const page1 = await fetch(`${f.url}/v2/${repo}/tags/list?n=2`);
    assert.equal(page1.status, 200);
    assert.deepEqual(await page1.json(), { name: repo, tags: all.slice(0, 2) });
    assert.equal(page1.headers.get("link"), `</v2/${repo}/tags/list?n=2&last=${all[1]}>; rel="next"`);
    const rest = await fetch(`${f.url}/v2/${repo}/tags/list?n=100&last=${all[1]}`);
    assert.deepEqual(await rest.json(), { name: repo, tags: all.slice(2) });
    assert.equal(rest.headers.get("link"), null);
    assert.equal((await fetch(`${f.url}/v2/${repo}/tags/list?n=-1`)).status, 400);
    assert.equal((await fetch(`${f.url}/v2/talosctl/${EMPTY_ID}/tags/list`)).status, 400);
    // The project's own client follows the Link header page by page.
    const { stdout: ours } = await run(
      process.execPath,
      [
        join(import.meta.dirname, "..", "..", "bin", "image-factory.js"),
        "oci",
        "tags",
        "--insecure",
        "--page-size",
        "2",
        `${host}/${repo}`,
      ],
      { timeout: 60_000 },
    );
    assert.deepEqual(ours.trim().split("\n").sort(), all);
  });
});

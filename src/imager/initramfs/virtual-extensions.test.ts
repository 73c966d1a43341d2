import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import { extract } from "tar-stream";
import { readVectors } from "../../../test/helpers/shared.js";
import { loadExtension, parseManifest } from "../../release/extensions/manifest.js";
import {
  embeddedConfigExtensionTar,
  schematicExtensionTar,
  STATE_SELINUX_LABEL,
  writeEmbeddedConfigExtension,
  writeSchematicExtension,
} from "./virtual-extensions.js";

interface TarMember {
  name: string;
  type: string;
  mode: number;
  pax: Record<string, string> | undefined;
  data: string;
}

async function readTar(buf: Buffer): Promise<TarMember[]> {
  const out: TarMember[] = [];
  const ex = extract();
  const done = (async (): Promise<void> => {
    for await (const entry of ex) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      out.push({
        name: h.name,
        type: h.type ?? "file",
        mode: h.mode ?? 0,
        pax: (h.pax ?? undefined) as Record<string, string> | undefined,
        data: Buffer.concat(chunks).toString(),
      });
    }
  })();
  Readable.from([buf]).pipe(ex);
  await done;
  return out;
}

let dir = "";
before(async () => (dir = await mkdtemp(join(tmpdir(), "bootforge-vext-"))));
after(async () => rm(dir, { recursive: true, force: true }));

const vectors = readVectors<{
  embeddedConfigExtension: Array<{ config: string; expectedTarEntryOrder: string[] }>;
}>("catalogs/extension-manifests.json");

test("embedded-config tar: upstream entry order, modes, SELinux PAX record, manifest", async () => {
  for (const v of vectors.embeddedConfigExtension) {
    const members = await readTar(await embeddedConfigExtensionTar(Buffer.from(v.config), 1_700_000_000));
    assert.deepEqual(
      members.map((m) => m.name),
      v.expectedTarEntryOrder,
    );
    assert.deepEqual(
      members.map((m) => m.mode.toString(8)),
      ["644", "755", "755", "755", "755", "755", "400"],
    );
    const cfg = members.at(-1)!;
    assert.equal(cfg.data, v.config);
    assert.equal(cfg.pax?.["SCHILY.xattr.security.selinux"], STATE_SELINUX_LABEL);
    assert.equal(
      members[0]!.data,
      "version: v1alpha1\nmetadata:\n    name: embedded-config\n" +
        // sha256("test")
        "    version: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n" +
        "    author: Imager\n    description: Virtual extension which embeds the machine configuration.\n" +
        "    compatibility:\n        talos:\n            version: '>= 1.0.0'\n",
    );
  }
});

test("embedded-config directory loads as an extension and records the label", async () => {
  const ext = await writeEmbeddedConfigExtension(join(dir, "cfg"), Buffer.from("test"));
  const loaded = await loadExtension(ext.dir);
  assert.equal(loaded.manifest.metadata.name, "embedded-config");
  assert.deepEqual(ext.labels, { "usr/local/etc/talos/config.yaml": STATE_SELINUX_LABEL });
  assert.equal((await stat(join(ext.dir, "rootfs/usr/local/etc/talos/config.yaml"))).mode & 0o777, 0o400);
});

test("schematic extension: manifest with extraInfo (≥ 1.7), marker file, entry order", async () => {
  const id = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";
  const canonicalYaml =
    "customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/gvisor\n";
  const opts = { id, canonicalYaml, externalUrl: "https://factory.example.com/", includeExtraInfo: true };
  const members = await readTar(await schematicExtensionTar(opts, 0));
  assert.deepEqual(
    members.map((m) => `${m.type}:${m.name}:${m.mode.toString(8)}`),
    [
      "file:manifest.yaml:644",
      "directory:rootfs:755",
      "directory:rootfs/usr:755",
      "directory:rootfs/usr/local:755",
      "directory:rootfs/usr/local/share:755",
      "directory:rootfs/usr/local/share/schematic:755",
      `file:rootfs/usr/local/share/schematic/${id}:644`,
    ],
  );
  const manifest = parseManifest(members[0]!.data);
  assert.equal(manifest.metadata.author, "Image Factory (https://factory.example.com/)");
  assert.equal(manifest.metadata.version, id);
  assert.equal(manifest.metadata.extraInfo, canonicalYaml);
  assert.match(members[0]!.data, /\n {4}extraInfo: \|\n {8}customization:\n/);

  const old = await writeSchematicExtension(join(dir, "schematic"), { ...opts, includeExtraInfo: false });
  const text = await readFile(join(old.dir, "manifest.yaml"), "utf8");
  assert.doesNotMatch(text, /extraInfo/);
  assert.equal((await loadExtension(old.dir)).manifest.metadata.name, "schematic");
});

/**
 * What a schematic contributes to an asset profile beyond extensions (image-factory.md §3.3):
 * bootloader and SecureBoot enrollment on ISOs and disk images only, disk sector size on disk
 * images only, well-known certificates on SecureBoot assets, and the overlay on command lines.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAssetPath, type Profile } from "../../profile/index.js";
import { parseTalosVersion } from "../../profile/version.js";
import type { OverlayEntry } from "../../release/catalogs.js";
import type { ServedVersion } from "../../release/versions.js";
import { parseSchematic } from "../../schematic/index.js";
import { enhanceFromSchematic, type Catalogs } from "./enhance.js";

const V: ServedVersion = { tag: "v1.12.0", version: parseTalosVersion("v1.12.0")! };
const OVERLAY: OverlayEntry = {
  name: "bootforge_sbc",
  image: "siderolabs/sbc-bootforge",
  ref: "ghcr.io/siderolabs/sbc-bootforge:v0.1.0",
  digest: `sha256:${"1".repeat(64)}`,
};
const catalogs: Catalogs = {
  extensions: () => Promise.resolve([]),
  overlays: () => Promise.resolve([OVERLAY]),
};

async function enhanced(path: string, yaml: string): Promise<Profile> {
  return (await enhanceFromSchematic(parseAssetPath(path), parseSchematic(yaml), V, catalogs, true)).profile;
}

const SCHEMATIC = `customization:
  bootloader: grub
  diskImage:
    sectorSize: 4096
  secureboot:
    enrollKeys: force
    includeWellKnownCertificates: true
`;

test("bootloader and sector size reach disk images; bootloader reaches ISOs", async () => {
  const disk = await enhanced("metal-amd64.raw.zst", SCHEMATIC);
  assert.equal(disk.output?.imageOptions?.bootloader, "grub");
  assert.equal(disk.output?.imageOptions?.diskSectorSize, 4096);
  assert.equal(disk.output?.imageOptions?.sdBootEnrollKeys, undefined, "enrollment is SecureBoot-only");
  assert.equal(disk.input?.secureboot, undefined);
  const iso = await enhanced("metal-amd64.iso", SCHEMATIC);
  assert.equal(iso.output?.isoOptions?.bootloader, "grub");
  assert.equal(iso.output?.imageOptions, undefined);
  const uki = await enhanced("metal-amd64-uki.efi", SCHEMATIC);
  assert.equal(uki.output?.isoOptions, undefined);
  assert.equal(uki.output?.imageOptions, undefined);
});

test("SecureBoot assets get enrollment (ISO, disk) and well-known certificates (all)", async () => {
  const iso = await enhanced("metal-amd64-secureboot.iso", SCHEMATIC);
  assert.equal(iso.output?.isoOptions?.sdBootEnrollKeys, "force");
  assert.equal(iso.input?.secureboot?.includeWellKnownCerts, true);
  const disk = await enhanced("metal-amd64-secureboot.raw.xz", SCHEMATIC);
  assert.equal(disk.output?.imageOptions?.sdBootEnrollKeys, "force");
  const uki = await enhanced("metal-amd64-secureboot-uki.efi", SCHEMATIC);
  assert.equal(uki.input?.secureboot?.includeWellKnownCerts, true);
  assert.equal(uki.output?.isoOptions, undefined);
  await assert.rejects(
    enhanced("metal-amd64-secureboot.iso", "customization:\n  secureboot:\n    enrollKeys: sometimes\n"),
    /invalid secureboot enrollKeys value "sometimes"/,
  );
});

test("command lines of overlay schematics carry the overlay (its installer supplies kernel args)", async () => {
  const r = await enhanceFromSchematic(
    parseAssetPath("cmdline-metal-arm64"),
    parseSchematic("overlay:\n  name: bootforge_sbc\n  image: siderolabs/sbc-bootforge\n"),
    V,
    catalogs,
    true,
  );
  assert.equal(r.overlay?.name, "bootforge_sbc");
  assert.equal(r.profile.overlay?.image?.imageRef, `${OVERLAY.ref}@${OVERLAY.digest}`);
  assert.equal(r.schematicExtension, false);
});

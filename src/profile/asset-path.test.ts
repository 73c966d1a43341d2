import { test } from "node:test";
import assert from "node:assert/strict";
import { isBootforgeError } from "../errors/index.js";
import { readVectors } from "../../test/helpers/shared.js";
import { ASSET_PATH_ERROR_PREFIX, parseAssetPath, parsePxePath } from "./asset-path.js";
import { contentTypeOf } from "./content-type.js";
import { routeV2, parseInstallerImageName } from "./registry-route.js";
import { outputPath, finalOutputPath } from "./output-path.js";
import type { Profile } from "./model.js";

interface AssetVectors {
  vectors: { path: string; version: string; expectedProfile?: Profile; expectedError?: string }[];
  pxePaths: {
    pxePath: string;
    cmdlineAsset: string;
    referencedAssets: { directive: string; url: string; asset: string }[];
  }[];
  integrationCases: { request: string; expectedStatus: number; expectedBody: string }[];
}

const assets = readVectors<AssetVectors>("asset-paths.json");

function thrown(fn: () => unknown) {
  try {
    fn();
  } catch (e) {
    assert.ok(isBootforgeError(e), "a BootforgeError");
    return e;
  }
  assert.fail("expected an error");
}

test("every TestParseFromPath vector: exact profile or exact error", () => {
  assert.equal(assets.vectors.length, 18);
  for (const v of assets.vectors) {
    if (v.expectedError !== undefined) {
      const e = thrown(() => parseAssetPath(v.path));
      assert.equal(e.message, v.expectedError, v.path);
      assert.equal(e.httpStatus, 400);
    } else {
      assert.deepEqual(parseAssetPath(v.path), v.expectedProfile, v.path);
    }
  }
});

test("an invalid disk path answers 400 with upstream's body", () => {
  const c = assets.integrationCases.find((x) => x.expectedStatus === 400)!;
  const path = c.request.split("/").pop()!;
  const e = thrown(() => parseAssetPath(path));
  assert.equal(`${ASSET_PATH_ERROR_PREFIX}${e.message}\n`, c.expectedBody);
  assert.equal(e.httpStatus, c.expectedStatus);
});

test("parsed asset paths name the file the imager writes (plus the compression suffix)", () => {
  for (const v of assets.vectors) {
    if (!v.expectedProfile || v.path.startsWith("initramfs-") || v.path.includes("-installer-")) continue;
    const p = parseAssetPath(v.path);
    assert.equal(finalOutputPath(p), v.path, v.path);
  }
  // The factory's names for initramfs and platform installers differ from the imager's.
  assert.equal(outputPath(parseAssetPath("initramfs-amd64.xz")), "initramfs-metal-amd64.xz");
  assert.equal(outputPath(parseAssetPath("aws-installer-arm64.tar")), "installer-arm64.tar");
});

test("more grammar: iPXE arch names, platform-arch errors, disk formats", () => {
  assert.equal(parseAssetPath("kernel-x86_64").arch, "amd64");
  assert.equal(parseAssetPath("initramfs-i386.xz").arch, "amd64");
  assert.equal(thrown(() => parseAssetPath("cmdline-metal")).message, 'invalid platform-arch: "metal"');
  assert.equal(thrown(() => parseAssetPath("metal.iso")).message, 'invalid platform-arch: "metal"');
  assert.equal(
    thrown(() => parseAssetPath("metal-amd64.zst")).message,
    'invalid profile path: "metal-amd64"',
  );
  const ova = parseAssetPath("vmware-arm64.ova.xz");
  assert.deepEqual(ova.output, {
    kind: "image",
    imageOptions: { diskSize: 8192 * 1024 * 1024, diskFormat: "ova" },
    outFormat: ".xz",
  });
  const exo = parseAssetPath("exoscale-amd64.qcow2");
  assert.deepEqual(exo.output?.imageOptions, {
    diskSize: 10240 * 1024 * 1024,
    diskFormat: "qcow2",
    diskFormatOptions: "cluster_size=8k",
  });
  assert.deepEqual(parseAssetPath("nutanix-amd64.qcow2").platform, "nutanix");
  // Upstream answers 500 (nil dereference) for these; here they keep the defaults.
  assert.equal(parseAssetPath("iso-amd64.raw").output?.imageOptions?.diskSize, 8192 * 1024 * 1024);
  assert.deepEqual(parseAssetPath("installer-arm64-secureboot.tar"), {
    platform: "metal",
    arch: "arm64",
    secureboot: true,
    output: { kind: "installer", outFormat: "raw" },
  });
});

test("PXE paths reference the upstream assets", () => {
  assert.equal(assets.pxePaths.length, 4);
  for (const v of assets.pxePaths) {
    const pxe = parsePxePath(v.pxePath);
    assert.equal(pxe.cmdlineAsset, v.cmdlineAsset);
    assert.deepEqual(
      pxe.bootAssets,
      v.referencedAssets.map((a) => ({ directive: a.directive, asset: a.asset })),
    );
    for (const a of v.referencedAssets) assert.ok(a.url.endsWith(`/${a.asset}`));
  }
  assert.equal(thrown(() => parsePxePath("metal-riscv64")).message, 'invalid architecture: "riscv64"');
});

interface RouteVectors {
  vectors: { name: string; path: string; expected: Record<string, string> }[];
  notFound: { path: string }[];
}

test("registry routes: every TestRouteV2 and TestRouteV2NotFound vector", () => {
  const r = readVectors<RouteVectors>("registry-routes.json");
  assert.ok(r.vectors.length >= 10 && r.notFound.length >= 9);
  for (const v of r.vectors) assert.deepEqual({ ...routeV2(v.path) }, v.expected, v.name);
  for (const v of r.notFound) {
    // The one deliberate difference: an installer repository's tag list is served (README).
    if (v.path === "/image/schematic/tags/list") {
      assert.deepEqual(
        { ...routeV2(v.path) },
        { target: "tags", image: "image", schematic: "schematic", resource: "tags", reference: "list" },
      );
      continue;
    }
    const e = thrown(() => routeV2(v.path));
    assert.equal(e.httpStatus, 404, v.path);
    assert.equal(e.message, `unknown registry path: ${JSON.stringify(v.path)}`);
  }
  // Upstream's integration expectations.
  assert.equal(thrown(() => routeV2("/a/b/c/manifests/v1")).httpStatus, 404);
  assert.equal(thrown(() => routeV2("/siderolabs/installer/tags/v1")).httpStatus, 404);
});

test("installer image names → platform and secureboot", () => {
  assert.deepEqual(parseInstallerImageName("installer"), { platform: "metal", secureboot: false });
  assert.deepEqual(parseInstallerImageName("installer-secureboot"), { platform: "metal", secureboot: true });
  assert.deepEqual(parseInstallerImageName("digital-ocean-installer"), {
    platform: "digital-ocean",
    secureboot: false,
  });
  assert.deepEqual(parseInstallerImageName("aws-installer-secureboot"), {
    platform: "aws",
    secureboot: true,
  });
  const e = thrown(() => parseInstallerImageName("talosctl"));
  assert.equal(e.message, "invalid image: talosctl");
  assert.equal(e.httpStatus, 400);
});

test("content types: every mime.json vector and the asset names of the grammar", () => {
  const m = readVectors<{ vectors: { filename: string; expected: string }[] }>("mime.json");
  for (const v of m.vectors) assert.equal(contentTypeOf(v.filename), v.expected, v.filename);
  assert.equal(contentTypeOf("metal-amd64.raw.zst"), "application/octet-stream");
  assert.equal(contentTypeOf("kernel-amd64"), "application/octet-stream");
  assert.equal(contentTypeOf("metal-amd64-secureboot-uki.efi"), "application/efi");
  assert.equal(contentTypeOf("gcp-amd64.raw.tar.gz"), "application/gzip");
  assert.equal(contentTypeOf("dir.d/kernel"), "application/octet-stream");
});

test("platform disk options apply only to their own disk format (better than upstream)", () => {
  // Upstream copies azure's VHD options onto a qcow2 request and qemu-img then fails.
  const q = parseAssetPath("azure-arm64.qcow2.xz");
  assert.equal(q.output?.imageOptions?.diskFormat, "qcow2");
  assert.equal(q.output?.imageOptions?.diskFormatOptions, "cluster_size=8k");
  const v = parseAssetPath("azure-amd64.vhd");
  assert.equal(v.output?.imageOptions?.diskFormatOptions, "subformat=fixed,force_size");
});

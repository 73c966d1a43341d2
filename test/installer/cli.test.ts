/**
 * The boot-assets guide's installer examples through the imager CLI against the fixture release:
 * `installer --platform=metal` (pinned extension references, as the guide writes them),
 * `secureboot-installer`, `installer --platform=aws` and the SBC overlay installer, for the UKI era
 * (1.11) and the kernel + initramfs era (1.9). Each tar is built twice (byte-identical), imported
 * and pushed by skopeo to a real registry, pulled back, and its layers and files compared with
 * `registry.installerImages` in ../shared/vectors/integration-expectations.json.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createReadStream, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { ensureFixtureRelease, OVERLAY } from "../../fixtures/index.js";
import { buildKernelCmdline } from "../../src/cmdline/index.js";
import { generateSecureBootKeys } from "../../src/imager/secureboot/keys.js";
import { startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { assertLines, limiter, runImager, type ImagerRun } from "../helpers/run-imager.js";
import { readVectors } from "../helpers/shared.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const HELLO = "ghcr.io/siderolabs/bootforge-hello:1.0.0";
const OVERLAY_REF = `ghcr.io/${OVERLAY.repo}:${OVERLAY.tag}`;
const cacheDir = join(REPO, ".cache", "imager-test");

interface VectorImage {
  test: string;
  platform: string;
  schematic: string;
  layerCount: number | null;
  filesMustContain: string[];
}

/** One guide example: the CLI arguments and what upstream would call and print. */
interface Case {
  name: string;
  version: string;
  args: (keys: string) => string[];
  file: string;
  arch: "amd64" | "arm64";
  platform: string;
  secureboot: boolean;
  overlay: boolean;
  /** A profile fed on stdin (the `-` argument); other flags are then ignored, as upstream. */
  stdin?: () => string;
}

const CASES: Case[] = [
  {
    name: "guide bare-metal installer (1.11, pinned extension references)",
    version: "v1.11.0",
    // As the guide writes it: no --arch (the host's), extensions pinned by digest.
    args: () => [
      "installer",
      "--platform=metal",
      "--system-extension-image",
      pinned(HELLO),
      "--system-extension-image",
      pinned("ghcr.io/siderolabs/intel-ucode:20250211-v1.11.0"),
    ],
    file: "installer-amd64.tar",
    arch: "amd64",
    platform: "metal",
    secureboot: false,
    overlay: false,
  },
  {
    name: "secureboot-installer (1.11)",
    version: "v1.11.0",
    args: (keys) => ["secureboot-installer", "--secureboot-keys-dir", keys],
    file: "installer-amd64-secureboot.tar",
    arch: "amd64",
    platform: "metal",
    secureboot: true,
    overlay: false,
  },
  {
    name: "guide AWS installer: installer --platform=aws (1.11)",
    version: "v1.11.0",
    args: () => ["installer", "--platform=aws", "--system-extension-image", HELLO],
    file: "installer-amd64.tar",
    arch: "amd64",
    platform: "aws",
    secureboot: false,
    overlay: false,
  },
  {
    name: "guide SBC installer: installer --arch arm64 with an overlay (1.11)",
    version: "v1.11.0",
    args: () => [
      "installer",
      "--arch",
      "arm64",
      "--system-extension-image",
      HELLO,
      "--overlay-image",
      OVERLAY_REF,
      `--overlay-name=${OVERLAY.name}`,
    ],
    file: "installer-arm64.tar",
    arch: "arm64",
    platform: "metal",
    secureboot: false,
    overlay: true,
  },
  {
    name: "bare-metal installer (1.9: kernel + initramfs)",
    version: "v1.9.0",
    args: () => [
      "installer",
      "--platform=metal",
      "--system-extension-image",
      HELLO,
      "--system-extension-image",
      "ghcr.io/siderolabs/intel-ucode:20250211-v1.9.0",
    ],
    file: "installer-amd64.tar",
    arch: "amd64",
    platform: "metal",
    secureboot: false,
    overlay: false,
  },
  {
    name: "secureboot-installer (1.9: vmlinuz.efi.signed)",
    version: "v1.9.0",
    args: (keys) => ["secureboot-installer", "--secureboot-keys-dir", keys],
    file: "installer-amd64-secureboot.tar",
    arch: "amd64",
    platform: "metal",
    secureboot: true,
    overlay: false,
  },
  {
    // The guide's profile.yaml example, as written for a release that still had `installer`
    // images (the fixture's 1.9); `crane export` is `image-factory oci export` here.
    name: "guide profile.yaml installer: extension from an exported tarball (1.9, stdin)",
    version: "v1.9.0",
    args: () => ["-"],
    stdin: () =>
      [
        "arch: amd64",
        "platform: metal",
        "secureboot: false",
        "version: v1.9.0",
        "input:",
        "  kernel:",
        "    path: /usr/install/amd64/vmlinuz",
        "  initramfs:",
        "    path: /usr/install/amd64/initramfs.xz",
        "  baseInstaller:",
        "    imageRef: ghcr.io/siderolabs/installer:v1.9.0",
        "  systemExtensions:",
        `    - tarballPath: ${exportedExtension}  # notice we use 'tarballPath' instead of 'imageRef'`,
        "output:",
        "  kind: installer",
        "  outFormat: raw",
        "",
      ].join("\n"),
    file: "installer-amd64.tar",
    arch: "amd64",
    platform: "metal",
    secureboot: false,
    overlay: false,
  },
];

let release = "";
let exportedExtension = "";
let scratch = "";
let keys = "";
let registry: TestRegistry | undefined;
let vectors: VectorImage[] = [];
const builds = new Map<Case, Promise<[ImagerRun, ImagerRun]>>();

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-installer-cli-"));
  keys = join(scratch, "keys");
  await generateSecureBootKeys(keys, { ukiBits: 2048, notBefore: new Date(Number(EPOCH) * 1000) });
  vectors = readVectors<{ registry: { installerImages: VectorImage[] } }>("integration-expectations.json")
    .registry.installerImages;
  exportedExtension = join(scratch, "bootforge-hello.tar");
  const exported = spawnSync(
    process.execPath,
    [
      join(REPO, "bin", "image-factory.js"),
      "oci",
      "export",
      `oci:${release}:siderolabs/bootforge-hello:1.0.0`,
    ],
    { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 },
  );
  assert.equal(exported.status, 0, exported.stderr?.toString());
  await writeFile(exportedExtension, exported.stdout);
  registry = await startRegistry("none");
  // Installer builds are short and independent: two at a time, each case built twice.
  const limit = limiter(2);
  for (const c of CASES) {
    const run = (suffix: string) => limit(() => imager(c, outDir(c, suffix)));
    builds.set(c, Promise.all([run("a"), run("b")]));
  }
  // Failures surface in the tests that await them, not here.
  for (const p of builds.values()) p.catch(() => undefined);
});
after(async () => {
  await Promise.allSettled(builds.values());
  await registry?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const outDir = (c: Case, suffix: string) => join(scratch, `${CASES.indexOf(c)}-${suffix}`);

function imager(c: Case, out: string): Promise<ImagerRun> {
  return runImager(c.args(keys), {
    source: `oci-layout:${release}`,
    version: c.stdin ? undefined : c.version,
    stdin: c.stdin?.(),
    cacheDir,
    out,
    sourceDateEpoch: EPOCH,
  });
}

/** `<repo>:<tag>@sha256:…` with the digest the fixture release holds for the tag. */
function pinned(ref: string): string {
  const name = ref.slice("ghcr.io/".length);
  const index = JSON.parse(readFileSync(join(release, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const m = index.manifests.find((d) => d.annotations?.["org.opencontainers.image.ref.name"] === name);
  assert.ok(m, `${name} is not in the fixture release`);
  return `${ref}@${m.digest}`;
}

const semver = (v: string) => v.replace(/^v/, "").split(".").map(Number) as [number, number, number];
const cmp = (a: string, b: string) => {
  const [x, y] = [semver(a), semver(b)];
  return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
};

/**
 * The vector entry for a build: the empty schematic for the same SecureBoot mode and platform, from
 * the newest vector version not newer than the fixture's (1.11 → v1.11.0; 1.9 → v1.5.1, the same
 * kernel + initramfs era). The overlay case adds the `overlay/` files of the overlays entry.
 */
function expectation(c: Case): { layerCount: number; files: string[] } {
  const versionOf = (v: VectorImage) => /^TestRegistryFrontend\/(v[\d.]+)\//.exec(v.test)?.[1] ?? "";
  const candidates = vectors.filter(
    (v) =>
      v.schematic === "empty" &&
      v.platform === `linux/${c.arch}` &&
      v.test.includes(`/secureboot=${c.secureboot}/`) &&
      cmp(versionOf(v), c.version) <= 0,
  );
  candidates.sort((a, b) => cmp(versionOf(b), versionOf(a)));
  const base = candidates[0];
  assert.ok(base, `no vector for ${c.name}`);
  assert.ok(base.layerCount !== null, `${base.test} asserts no layer count`);
  if (!c.overlay) return { layerCount: base.layerCount, files: base.filesMustContain };
  const ov = vectors.find((v) => v.test.includes("/overlays/") && v.platform === `linux/${c.arch}`);
  assert.ok(ov?.layerCount, "no overlay vector");
  return {
    layerCount: ov.layerCount,
    files: [...base.filesMustContain, ...ov.filesMustContain.filter((f) => f.startsWith("overlay/"))],
  };
}

function skopeo(...args: string[]): string {
  const r = spawnSync("skopeo", args, { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `skopeo ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

interface Entry {
  type: string;
  linkname: string;
}

/** The flattened filesystem of layer blobs applied in order (whiteouts honoured). */
async function flatten(blobs: string[]): Promise<Map<string, Entry>> {
  const fs = new Map<string, Entry>();
  for (const blob of blobs) {
    const ex = tar.extract();
    createReadStream(blob).pipe(createGunzip()).pipe(ex);
    for await (const e of ex) {
      const name = e.header.name.replace(/^\.\//, "").replace(/\/$/, "");
      const slash = name.lastIndexOf("/");
      const base = name.slice(slash + 1);
      if (base.startsWith(".wh.")) {
        const target = name.slice(0, slash + 1) + base.slice(".wh.".length);
        for (const k of [...fs.keys()]) if (k === target || k.startsWith(`${target}/`)) fs.delete(k);
      } else {
        fs.set(name, { type: e.header.type ?? "file", linkname: e.header.linkname ?? "" });
      }
      e.resume();
    }
  }
  return fs;
}

/** Whether `path` names a regular file, following the image's own symlinks (e.g. `bin -> usr/bin`). */
function resolvesToFile(fs: Map<string, Entry>, path: string): boolean {
  let parts = path.split("/");
  for (let i = 0, hops = 0; i < parts.length; i++) {
    const e = fs.get(parts.slice(0, i + 1).join("/"));
    if (e?.type !== "symlink") continue;
    if (++hops > 32) return false;
    const target = e.linkname.startsWith("/")
      ? e.linkname.slice(1).split("/")
      : [...parts.slice(0, i), ...e.linkname.split("/")];
    const rest = [...target, ...parts.slice(i + 1)];
    parts = [];
    for (const p of rest) {
      if (p === "..") parts.pop();
      else if (p !== "." && p !== "") parts.push(p);
    }
    i = -1;
  }
  return fs.get(parts.join("/"))?.type === "file";
}

/**
 * The first section called `name` of a PE file, read from the COFF section table here (binutils
 * on an amd64 host does not read arm64 PE files), cut to its VirtualSize.
 */
async function peSection(file: string, name: string): Promise<string> {
  const pe = await readFile(file);
  const at = pe.readUInt32LE(0x3c);
  assert.equal(pe.toString("latin1", at, at + 4), "PE\0\0", `${file} is not a PE file`);
  const count = pe.readUInt16LE(at + 6);
  const table = at + 24 + pe.readUInt16LE(at + 20);
  for (let i = 0; i < count; i++) {
    const h = table + i * 40;
    if (pe.toString("latin1", h, h + 8).replace(/\0+$/, "") !== name) continue;
    const start = pe.readUInt32LE(h + 20);
    return pe.toString("latin1", start, start + pe.readUInt32LE(h + 8));
  }
  assert.fail(`${file} has no ${name} section`);
}

for (const c of CASES) {
  test(c.name, async () => {
    const [ra, rb] = await builds.get(c)!;
    const [a, b] = [outDir(c, "a"), outDir(c, "b")];
    const tarPath = join(a, c.file);
    const uki = c.version === "v1.11.0" || c.secureboot;
    const cmdline = buildKernelCmdline({
      platform: c.platform,
      arch: c.arch,
      version: c.version,
      outputKind: "installer",
      secureboot: c.secureboot,
      ...(c.overlay
        ? {
            overlayKernelArgs: [
              "console=tty0",
              "console=ttyAMA0,115200",
              "sysctl.kernel.kexec_load_disabled=1",
              "talos.dashboard.disabled=1",
            ],
          }
        : {}),
    }).toString();
    assertLines(ra, [
      c.overlay ? "pulling overlay..." : "skipped pulling overlay (no overlay)",
      "profile ready:",
      c.secureboot ? "skipped initramfs rebuild (no system extensions)" : "initramfs ready",
      `kernel command line: ${cmdline}`,
      ...(uki ? ["UKI ready"] : []),
      "building installer...",
      "installer container image ready",
      `output asset path: ${tarPath}`,
    ]);
    assert.match(ra.stderr, new RegExp(`^ {4}writing image tarball$`, "m"));
    if (c.overlay) assert.match(ra.stderr, /^ {4}generating overlay installer layer$/m);
    if (c.stdin) assert.ok(ra.stderr.includes(`\n    extracting ${exportedExtension}...\n`), ra.stderr);
    assert.deepEqual(await readdir(a), [c.file]);
    // docker-archive tagged with the base installer reference, as upstream's tarball.WriteToFile
    const base = c.version === "v1.11.0" ? "installer-base" : "installer";
    const m = spawnSync("tar", ["-xOf", tarPath, "manifest.json"], { encoding: "utf8" });
    const [entry] = JSON.parse(m.stdout) as { RepoTags: string[] }[];
    assert.deepEqual(entry?.RepoTags, [`ghcr.io/siderolabs/${base}:${c.version}`]);
    assert.equal(rb.code, 0, rb.stderr);
    assert.ok((await readFile(tarPath)).equals(await readFile(join(b, c.file))), "rebuild differs");
    await rm(b, { recursive: true, force: true });

    // skopeo imports the docker-archive and pushes it; what the registry serves is checked
    const ref = `docker://${registry!.host}/bootforge/${CASES.indexOf(c)}-installer:${c.version}`;
    skopeo("copy", "-q", "--dest-tls-verify=false", `docker-archive:${tarPath}`, ref);
    const info = JSON.parse(skopeo("inspect", "--tls-verify=false", ref)) as {
      Architecture: string;
      Os: string;
      Layers: string[];
    };
    const want = expectation(c);
    assert.equal(info.Architecture, c.arch);
    assert.equal(info.Os, "linux");
    assert.equal(info.Layers.length, want.layerCount, `layers of ${c.file}`);
    const pulled = join(scratch, `${CASES.indexOf(c)}-pulled`);
    skopeo("copy", "-q", "--src-tls-verify=false", ref, `dir:${pulled}`);
    const manifest = JSON.parse(await readFile(join(pulled, "manifest.json"), "utf8")) as {
      layers: { digest: string }[];
    };
    assert.deepEqual(
      manifest.layers.map((l) => l.digest),
      info.Layers,
    );
    const blobs = manifest.layers.map((l) => join(pulled, l.digest.replace(/^sha256:/, "")));
    const fs = await flatten(blobs);
    for (const f of want.files) {
      if (f.startsWith("overlay/artifacts/")) {
        // The vector names a Raspberry Pi firmware file (firmware/boot/fixup.dat); the fixture
        // overlay ships other firmware, so overlay/artifacts/<arch>/firmware/ must hold files.
        const dir = f.split("/").slice(0, 4).join("/") + "/";
        assert.ok(
          [...fs].some(([k, e]) => k.startsWith(dir) && e.type === "file"),
          `${dir} holds no files in ${c.file}`,
        );
      } else {
        assert.ok(resolvesToFile(fs, f), `${f} missing from ${c.file}: ${[...fs.keys()].join(" ")}`);
      }
    }

    if (!uki) return;
    // The UKI in the image carries this build's command line (talos.platform=aws for aws);
    // SecureBoot signs it and systemd-boot with the given key.
    const ukiName = c.version === "v1.11.0" ? "vmlinuz.efi" : "vmlinuz.efi.signed";
    const x = join(scratch, `${CASES.indexOf(c)}-x`);
    await mkdir(x);
    const artifacts = blobs[manifest.layers.length - (c.overlay ? 2 : 1)]!;
    const t = spawnSync("tar", ["-xzf", artifacts, "-C", x]);
    assert.equal(t.status, 0, t.stderr?.toString());
    const ukiPath = join(x, "usr", "install", c.arch, ukiName);
    assert.equal(await peSection(ukiPath, ".cmdline"), cmdline);
    if (c.secureboot) {
      for (const f of [ukiPath, join(x, "usr", "install", c.arch, "systemd-boot.efi")]) {
        const v = spawnSync("sbverify", ["--cert", join(keys, "uki-signing-cert.pem"), f], {
          encoding: "utf8",
        });
        assert.equal(v.status, 0, `${f}: ${v.stdout}${v.stderr}`);
      }
    }
    await rm(pulled, { recursive: true, force: true });
  });
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { readVectors } from "../../test/helpers/shared.js";
import { isBootforgeError } from "../errors/index.js";
import { Quirks } from "../profile/quirks.js";
import { buildKernelCmdline, type CmdlineOutputKind } from "./build-cmdline.js";
import { defaultKernelArgs, secureBootKernelArgs } from "./kernel-args.js";
import { PLATFORM_NAMES, platformKernelArgs } from "./platform-args.js";

interface ProfileInputs {
  platform: string;
  arch: string;
  version: string;
  secureboot: boolean;
  outputKind: CmdlineOutputKind;
  extraKernelArgs: string[];
  metaValues: { key: number; value: string }[];
  overlayKernelArgs: string[] | null;
}
interface CmdlineVector {
  name: string;
  profileInputs: ProfileInputs;
  expected: string;
}
interface ArgsVectors {
  vectors: { name: string; quirksVersion: string | null; expected: string[] }[];
}
interface CmdlineVectors {
  imager: CmdlineVector[];
  factory: CmdlineVector[];
  factoryPXE: CmdlineVector[];
  kernelDefaultArgs: ArgsVectors;
  kernelSecureBootArgs: ArgsVectors;
}

const vectors = readVectors<CmdlineVectors>("cmdline.json");

// profileInputs are what the (not yet written) profile layer resolves: for the imager vectors,
// platform/secureboot from the base profile; for the factory ones, from parsing the asset path
// and the schematic. They are listed verbatim in the vector file, so the builder is fed them directly.
function build(p: ProfileInputs): string {
  return buildKernelCmdline({
    platform: p.platform,
    arch: p.arch,
    version: p.version,
    outputKind: p.outputKind,
    secureboot: p.secureboot,
    overlayKernelArgs: p.overlayKernelArgs ?? undefined,
    metaValues: p.metaValues,
    extraKernelArgs: p.extraKernelArgs,
  }).toString();
}

for (const group of ["imager", "factory", "factoryPXE"] as const) {
  test(`cmdline.json ${group} vectors`, async (t) => {
    assert.ok(vectors[group].length > 0);
    for (const v of vectors[group]) {
      await t.test(v.name, () => assert.equal(build(v.profileInputs), v.expected));
    }
  });
}

// A null quirksVersion is upstream's zero Quirks value, i.e. an unparseable version.
const quirksFor = (v: string | null) => new Quirks(v ?? "");

test("kernel.DefaultArgs vectors", () => {
  for (const v of vectors.kernelDefaultArgs.vectors) {
    assert.deepEqual(defaultKernelArgs(quirksFor(v.quirksVersion)), v.expected, v.name);
  }
});

test("kernel.SecureBootArgs vectors", () => {
  for (const v of vectors.kernelSecureBootArgs.vectors) {
    assert.deepEqual(secureBootKernelArgs(quirksFor(v.quirksVersion)), v.expected, v.name);
  }
});

const base = {
  platform: "metal",
  arch: "amd64",
  version: "v1.13.0",
  outputKind: "cmdline" as CmdlineOutputKind,
};
const TAIL_113 =
  "init_on_alloc=1 slab_nomerge pti=on consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on selinux=1 module.sig_enforce=1 proc_mem.force_override=never";

test("ISO output on >= 1.8 gets talos.halt_if_installed=1 after the platform args", () => {
  assert.equal(
    buildKernelCmdline({ ...base, outputKind: "iso" }).toString(),
    `talos.platform=metal console=tty0 talos.halt_if_installed=1 ${TAIL_113}`,
  );
  assert.ok(
    !buildKernelCmdline({ ...base, version: "1.7.4", outputKind: "iso" })
      .toString()
      .includes("halt"),
  );
});

test("overlay args replace matching keys in place before the defaults", () => {
  assert.equal(
    buildKernelCmdline({
      ...base,
      arch: "arm64",
      overlayKernelArgs: ["console=tty0", "console=ttyS1,115200", "sysctl.kernel.kexec_load_disabled=1"],
    }).toString(),
    `talos.platform=metal console=tty0 console=ttyS1,115200 sysctl.kernel.kexec_load_disabled=1 ${TAIL_113}`,
  );
});

test("META goes on the command line for every output but disk images", () => {
  const metaValues = [{ key: 0x0a, value: '{"externalIPs":["1.2.3.4"]}' }];
  const arg = "talos.environment=INSTALLER_META_BASE64=MHhhPXsiZXh0ZXJuYWxJUHMiOlsiMS4yLjMuNCJdfQ==";
  for (const kind of ["iso", "uki", "cmdline", "installer"] as const) {
    assert.ok(
      buildKernelCmdline({ ...base, outputKind: kind, metaValues })
        .toString()
        .endsWith(arg),
      kind,
    );
  }
  assert.ok(
    !buildKernelCmdline({ ...base, outputKind: "image", metaValues })
      .toString()
      .includes("talos.environment"),
  );
});

test("large META is gzip-compressed from 1.6.3 on, plain before", () => {
  const metaValues = [{ key: 0x0a, value: "x".repeat(300) }];
  const env = (version: string) =>
    buildKernelCmdline({ ...base, version, metaValues })
      .get("talos.environment")!
      .first()!;
  const gz = Buffer.from(env("v1.6.3").slice("INSTALLER_META_BASE64=".length), "base64");
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  const plain = Buffer.from(env("v1.6.2").slice("INSTALLER_META_BASE64=".length), "base64");
  assert.equal(plain.toString(), `0xa=${"x".repeat(300)}`);
});

test("extra args come last: overwrite console/talos.platform, append others, negate", () => {
  assert.equal(
    buildKernelCmdline({
      ...base,
      extraKernelArgs: [
        "console=ttyS1",
        "console=tty0",
        "init_on_alloc=0",
        "-selinux",
        "-pti=on",
        "talos.platform=aws",
      ],
    }).toString(),
    "talos.platform=aws console=ttyS1 console=tty0 init_on_alloc=1 init_on_alloc=0 slab_nomerge consoleblank=0 nvme_core.io_timeout=4294967295 printk.devkmsg=on module.sig_enforce=1 proc_mem.force_override=never",
  );
});

test("SecureBoot adds lockdown=confidentiality before 1.14 only", () => {
  assert.ok(
    buildKernelCmdline({ ...base, secureboot: true })
      .toString()
      .endsWith("never lockdown=confidentiality"),
  );
  assert.ok(
    !buildKernelCmdline({ ...base, version: "v1.14.0", secureboot: true })
      .toString()
      .includes("lockdown"),
  );
});

test("packet is equinixMetal; unknown platforms are invalid input", () => {
  assert.ok(
    buildKernelCmdline({ ...base, platform: "packet" })
      .toString()
      .startsWith("talos.platform=equinixMetal console=ttyS1,115200n8 "),
  );
  assert.throws(
    () => buildKernelCmdline({ ...base, platform: "nutanix" }),
    (e) =>
      isBootforgeError(e, "invalid-input") && e.message === 'unknown platform: "nutanix"' && e.exitCode === 2,
  );
});

test("platform args per the imager reference table", () => {
  const q = new Quirks("v1.13.0");
  assert.equal(PLATFORM_NAMES.length, 21);
  assert.deepEqual(platformKernelArgs("container", "amd64", q), []);
  assert.deepEqual(platformKernelArgs("vmware", "arm64", q), [
    "talos.config=guestinfo",
    "console=tty0",
    "console=ttyAMA0",
    "net.ifnames=0",
  ]);
  assert.deepEqual(platformKernelArgs("equinixMetal", "arm64", q), ["console=ttyAMA0,115200"]);
  assert.deepEqual(
    platformKernelArgs("aws", "amd64", new Quirks("v1.14.0")).at(-1),
    "nvme_core.io_timeout=4294967295",
  );
  assert.equal(
    buildKernelCmdline({ ...base, platform: "azure" })
      .toString()
      .split(" ")
      .slice(0, 7)
      .join(" "),
    "talos.platform=azure console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 net.ifnames=0 talos.dashboard.disabled=1 sysctl.kernel.kexec_load_disabled=1",
  );
  for (const p of PLATFORM_NAMES) {
    for (const arch of ["amd64", "arm64"]) {
      assert.doesNotThrow(() => buildKernelCmdline({ ...base, platform: p, arch }).toString());
    }
  }
});

/**
 * The overlay installer protocol against real scripts: the fixture SBC installer, and hostile
 * ones (hang, crash, write outside, garbage replies, endless output) that must fail clearly
 * without touching anything outside their directories.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isBootforgeError } from "../../src/errors/index.js";
import {
  decodeOverlayOptions,
  encodeInstallRequest,
  openOverlay,
  overlayGetOptions,
  overlayInstall,
  overlayProfiles,
} from "../../src/imager/overlay/index.js";

let dir = "";
let work = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-overlay-test-"));
  work = join(dir, "work");
  await mkdir(work);
});
after(async () => rm(dir, { recursive: true, force: true }));

/** An overlay root with one installer script. */
async function overlayWith(name: string, script: string): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, "installers"), { recursive: true });
  await mkdir(join(root, "artifacts", "arm64", "u-boot", "bootforge_sbc"), { recursive: true });
  await mkdir(join(root, "artifacts", "arm64", "dtb", "broadcom"), { recursive: true });
  await mkdir(join(root, "artifacts", "arm64", "firmware"), { recursive: true });
  await writeFile(
    join(root, "artifacts", "arm64", "u-boot", "bootforge_sbc", "u-boot.bin"),
    "UBOOT".repeat(100),
  );
  await writeFile(join(root, "artifacts", "arm64", "dtb", "broadcom", "board.dtb"), "dtb");
  await writeFile(join(root, "artifacts", "arm64", "firmware", "config.txt"), "arm_64bit=1\n");
  await writeFile(join(root, "installers", "default"), script);
  await chmod(join(root, "installers", "default"), 0o755);
  return root;
}

const expectInstallError = async (p: Promise<unknown>, re: RegExp) => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isBootforgeError(e, "install"), `install error, got ${String(e)}`);
    assert.match((e as Error).message, re);
    return true;
  });
};

test("fixture SBC installer: get-options and install write the disk and mountPrefix only", async () => {
  const root = await overlayWith("fixture", await readFile("fixtures/overlay/installer.sh", "utf8"));
  const ov = await openOverlay(root);
  const opts = await overlayGetOptions(ov.installer, { configTxtAppend: "dtoverlay=x" }, { workDir: work });
  assert.equal(opts.name, "bootforge_sbc");
  assert.equal(opts.partitionOffset, 2048);
  assert.ok(opts.kernelArgs.includes("console=ttyAMA0,115200"));
  const disk = join(dir, "disk.raw");
  await writeFile(disk, Buffer.alloc(1024 * 1024));
  const prefix = join(dir, "prefix");
  await mkdir(prefix);
  await overlayInstall(
    ov.installer,
    {
      installDisk: disk,
      mountPrefix: prefix,
      artifactsPath: ov.artifactsPath,
      extraOptions: { configTxtAppend: "dtoverlay=x" },
    },
    { workDir: work },
  );
  const bytes = await readFile(disk);
  assert.equal(bytes.subarray(64 * 512, 64 * 512 + 5).toString(), "UBOOT");
  assert.equal(
    await readFile(join(prefix, "boot", "EFI", "config.txt"), "utf8"),
    "arm_64bit=1\ndtoverlay=x\n",
  );
});

test("install request and extra options are YAML as upstream marshals them", () => {
  const yaml = encodeInstallRequest({
    installDisk: "/d",
    mountPrefix: "/m",
    artifactsPath: "/a",
    extraOptions: { b: "2", a: "1" },
  });
  assert.equal(
    yaml,
    'installDisk: /d\nmountPrefix: /m\nartifactsPath: /a\nextraOptions:\n    a: "1"\n    b: "2"\n',
  );
});

test("get-options replies are validated strictly", () => {
  assert.throws(() => decodeOverlayOptions("name: x\nbogus: 1\n"), /unknown field bogus/);
  assert.throws(() => decodeOverlayOptions("kernelArgs: notalist\n"), /kernelArgs/);
  assert.throws(() => decodeOverlayOptions("partitionOptions:\n  offset: -1\n"), /offset/);
  assert.throws(() => decodeOverlayOptions("[1, 2"), /invalid get-options reply/);
  assert.deepEqual(decodeOverlayOptions(""), { name: "", kernelArgs: [], partitionOffset: 0 });
});

test("a hanging installer (and its children) is killed at the timeout", async () => {
  const root = await overlayWith("hang", "#!/bin/sh\nsleep 1000 &\nsleep 1000\n");
  const ov = await openOverlay(root);
  const t0 = Date.now();
  await expectInstallError(
    overlayGetOptions(ov.installer, {}, { workDir: work, timeoutMs: 1500 }),
    /timed out after 2 s/,
  );
  assert.ok(Date.now() - t0 < 10_000, "returned promptly");
});

test("a crashing installer fails with its stderr", async () => {
  const root = await overlayWith("crash", "#!/bin/sh\necho 'board not supported' >&2\nexit 3\n");
  const ov = await openOverlay(root);
  await expectInstallError(
    overlayGetOptions(ov.installer, {}, { workDir: work }),
    /exited with status 3.*board not supported/s,
  );
});

test("an installer writing outside its directories fails and writes nothing", async () => {
  const victim = join(dir, "victim.txt");
  const root = await overlayWith("escape", `#!/bin/sh\necho pwned > ${victim}\n`);
  const ov = await openOverlay(root);
  await expectInstallError(overlayGetOptions(ov.installer, {}, { workDir: work }), /Read-only file system/);
  await assert.rejects(stat(victim), { code: "ENOENT" });
  // its own scratch directory stays writable
  const ok = await overlayWith("scratch", "#!/bin/sh\necho hi > ./note\necho 'name: ok'\n");
  assert.equal(
    (await overlayGetOptions((await openOverlay(ok)).installer, {}, { workDir: work })).name,
    "ok",
  );
  assert.equal(await readFile(join(work, "note"), "utf8"), "hi\n");
});

test("garbage or endless output is rejected", async () => {
  const garbage = await openOverlay(await overlayWith("garbage", "#!/bin/sh\necho '{{{'\n"));
  await expectInstallError(
    overlayGetOptions(garbage.installer, {}, { workDir: work }),
    /invalid get-options reply/,
  );
  const flood = await openOverlay(await overlayWith("flood", "#!/bin/sh\nexec yes\n"));
  await expectInstallError(
    overlayGetOptions(flood.installer, {}, { workDir: work, timeoutMs: 20_000 }),
    /more than 1048576 bytes/,
  );
});

test("missing or non-executable installers and overlay profiles", async () => {
  const root = await overlayWith("profiles", "#!/bin/sh\n");
  await assert.rejects(openOverlay(root, "rpi"), /no installer "rpi"/);
  await assert.rejects(openOverlay(root, "../x"), /invalid overlay name/);
  await chmod(join(root, "installers", "default"), 0o644);
  await assert.rejects(openOverlay(root), /not executable/);
  await mkdir(join(root, "profiles"));
  await writeFile(
    join(root, "profiles", "bootforge_sbc.yaml"),
    await readFile("fixtures/overlay/profile.yaml", "utf8"),
  );
  const profiles = await overlayProfiles(root);
  assert.deepEqual([...profiles.keys()], ["bootforge_sbc"]);
  assert.equal(profiles.get("bootforge_sbc")?.output?.imageOptions?.diskSize, 1306525696);
});

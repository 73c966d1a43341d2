import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { createHash } from "node:crypto";
import {
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Readable, Writable } from "node:stream";
import { after, before, test } from "node:test";
import { Quirks } from "../../profile/quirks.js";
import { isBootforgeError } from "../../errors/index.js";
import { cpioChunks, extractCpioMember, listCpioFile, readCpioFile } from "./cpio-file.js";
import { run } from "../tools/run.js";
import { transform } from "../tools/transform.js";
import { rebuildInitramfs, type ExtensionInput } from "./rebuild.js";
import { testKernelModules, type TestModules } from "./testing/kernel-modules.js";
import { writeEmbeddedConfigExtension } from "./virtual-extensions.js";

const EPOCH = 1_700_000_000;
let dir = "";
let mods: TestModules;
let base = "";

async function put(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content, { mode });
}

async function extension(
  name: string,
  files: Record<string, string | Buffer>,
  constraint = ">= v1.0.0",
): Promise<ExtensionInput> {
  const d = join(dir, "ext", name);
  await put(
    join(d, "manifest.yaml"),
    `version: v1alpha1\nmetadata:\n  name: ${name}\n  version: 1.0.0\n  author: Bootforge tests\n  description: ${name} test extension\n  compatibility:\n    talos:\n      version: "${constraint}"\n`,
  );
  await mkdir(join(d, "rootfs"), { recursive: true });
  for (const [p, c] of Object.entries(files)) await put(join(d, "rootfs", p), c);
  return { dir: d };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-initramfs-"));
  mods = testKernelModules();
  // A Talos-shaped base: zstd cpio of `init` + `rootfs.sqsh` holding /usr/lib/modules/<kver>.
  const root = join(dir, "base-rootfs");
  const kdir = join(root, "usr/lib/modules", mods.kver);
  await mkdir(join(kdir, "kernel/drivers/block"), { recursive: true });
  await copyFile(join(mods.dir, "kernel/drivers/block/loop.ko"), join(kdir, "kernel/drivers/block/loop.ko"));
  await copyFile(join(mods.dir, "modules.builtin"), join(kdir, "modules.builtin"));
  await put(join(root, "usr/bin/true"), "#!/bin/sh\n", 0o755);
  const sqsh = join(dir, "rootfs.sqsh");
  await run(
    "mksquashfs",
    [root, sqsh, "-all-root", "-noappend", "-no-progress", "-comp", "zstd", "-no-xattrs", "-quiet"],
    { timeoutMs: 60_000, env: { SOURCE_DATE_EPOCH: String(EPOCH) } },
  );
  const sqshSize = (await readFile(sqsh)).length;
  base = join(dir, "initramfs-base.xz");
  const cpio = Readable.from(
    cpioChunks(
      [
        { kind: "data", name: "init", mode: 0o755, data: Buffer.from("#!/bin/sh\n") },
        { kind: "file", name: "rootfs.sqsh", mode: 0o644, source: sqsh, size: sqshSize },
      ],
      { mtime: EPOCH },
    ),
  );
  await transform("zstd", ["-c", "-q", "-3"], cpio, createWriteStream(base));
});
after(async () => rm(dir, { recursive: true, force: true }));

test("rebuild with userspace, microcode, firmware, kernel-module and embedded-config extensions", async () => {
  const exts = [
    await extension("hello", { "usr/local/bin/hello": "hello\n" }),
    await extension("intel-ucode", {
      "usr/lib/firmware/intel-ucode/06-02-01": "B",
      "usr/lib/firmware/intel-ucode/06-01-01": "A",
      "usr/lib/firmware/amd-ucode/microcode_amd_fam17h.bin": "AMD",
      "usr/lib/firmware/amd-ucode/README": "not microcode",
    }),
    await extension("acme-firmware", { "usr/lib/firmware/acme/fw.bin": "FIRMWARE" }),
    await extension("dummy-module", {
      [`usr/lib/modules/${mods.kver}/extras/dummy.ko`]: await readFile(
        join(mods.dir, "kernel/drivers/net/dummy.ko"),
      ),
    }),
    await writeEmbeddedConfigExtension(join(dir, "ext", "embedded"), Buffer.from("version: v1alpha1\n")),
  ];
  // The extension trees are shared (the imager's cache): the rebuild only reads them.
  const untouched = await Promise.all(exts.map((e) => treeSnapshot(e.dir)));
  const quirks = new Quirks("v1.10.0");
  const build = async (n: number): Promise<{ path: string; layers: string[]; early: boolean }> => {
    const r = await rebuildInitramfs({
      baseInitramfs: base,
      arch: "amd64",
      quirks,
      extensions: exts,
      workDir: join(dir, `work${n}`),
      output: join(dir, `initramfs-${n}.xz`),
      sourceDateEpoch: EPOCH,
    });
    return { path: r.path, layers: r.layers.map((l) => l.image), early: r.earlyMicrocode };
  };
  const first = await build(1);
  assert.deepEqual(first.layers, ["0.sqsh", "1.sqsh", "2.sqsh", "3.sqsh", "4.sqsh", "modules.dep.sqsh"]);
  assert.equal(first.early, true);

  const members = await listCpioFile(first.path);
  const seen = members.map((m) => `${m.archive}:${m.compression}:${m.name}`);
  assert.deepEqual(seen, [
    "0:none:kernel",
    "0:none:kernel/x86",
    "0:none:kernel/x86/microcode",
    "0:none:kernel/x86/microcode/AuthenticAMD.bin",
    "0:none:kernel/x86/microcode/GenuineIntel.bin",
    "1:zstd:init",
    "1:zstd:rootfs.sqsh",
    // The squashfs layers, already compressed, in a stored archive of their own.
    "2:zstd:0.sqsh",
    "2:zstd:1.sqsh",
    "2:zstd:2.sqsh",
    "2:zstd:3.sqsh",
    "2:zstd:4.sqsh",
    "2:zstd:modules.dep.sqsh",
    "3:zstd:extensions.yaml",
    "3:zstd:usr",
    "3:zstd:usr/lib",
    "3:zstd:usr/lib/firmware",
    "3:zstd:usr/lib/firmware/acme",
    "3:zstd:usr/lib/firmware/acme/fw.bin",
    "3:zstd:usr/lib/firmware/amd-ucode",
    "3:zstd:usr/lib/firmware/amd-ucode/README",
    "3:zstd:usr/lib/firmware/intel-ucode",
  ]);
  // The layers' frame is stored, not compressed: each image's bytes are in the file as is, and
  // everything behind the early cpio is still one run of zstd frames that `zstd -d` decodes.
  const whole = await readFile(first.path);
  await extractCpioMember(first.path, "0.sqsh", join(dir, "layer0.sqsh"));
  const layer0 = await readFile(join(dir, "layer0.sqsh"));
  assert.ok(layer0.length > 0 && whole.includes(layer0.subarray(0, 1024)), "layer stored as is");
  const zstdStart = whole.indexOf(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  await writeFile(join(dir, "tail.zst"), whole.subarray(zstdStart));
  await run("zstd", ["-t", "-q", join(dir, "tail.zst")], { timeoutMs: 30_000 });
  for (const m of members) {
    assert.equal(m.uid, 0);
    assert.equal(m.gid, 0);
    assert.equal(m.mtime, EPOCH, m.name);
  }

  const got = async (name: string): Promise<Buffer> => {
    const dest = join(dir, `member-${name.replaceAll("/", "_")}`);
    await extractCpioMember(first.path, name, dest);
    return readFile(dest);
  };
  // Microcode blobs in glob (name) order, accumulated across extensions.
  assert.equal((await got("kernel/x86/microcode/GenuineIntel.bin")).toString(), "AB");
  assert.equal((await got("kernel/x86/microcode/AuthenticAMD.bin")).toString(), "AMD");
  assert.equal((await got("usr/lib/firmware/acme/fw.bin")).toString(), "FIRMWARE");

  // The kernel (and GNU cpio) reads the early archive on its own.
  const early = await run("cpio", ["-t", "--quiet", "-F", first.path], { timeoutMs: 30_000 });
  assert.match(early.stdout.toString(), /kernel\/x86\/microcode\/GenuineIntel.bin/);

  const layerYaml = (
    image: string,
    name: string,
    version: string,
    author: string,
    desc: string,
    c: string,
  ): string[] => [
    `    - image: ${image}`,
    "      metadata:",
    `        name: ${name}`,
    `        version: ${version}`,
    `        author: ${author}`,
    `        description: ${desc}`,
    "        compatibility:",
    "            talos:",
    `                version: ${c}`,
  ];
  const expectedYaml = [
    "layers:",
    ...["hello", "intel-ucode", "acme-firmware", "dummy-module"].flatMap((n, i) =>
      layerYaml(`${i}.sqsh`, n, "1.0.0", "Bootforge tests", `${n} test extension`, "'>= v1.0.0'"),
    ),
    ...layerYaml(
      "4.sqsh",
      "embedded-config",
      createHash("sha256").update("version: v1alpha1\n").digest("hex"),
      "Imager",
      "Virtual extension which embeds the machine configuration.",
      "'>= 1.0.0'",
    ),
    ...layerYaml(
      "modules.dep.sqsh",
      "modules.dep",
      mods.kver,
      "Talos Machinery",
      "Combined modules.dep for all extensions",
      '""',
    ),
    "",
  ].join("\n");
  assert.equal((await got("extensions.yaml")).toString(), expectedYaml);

  // Layers: firmware left out of its squashfs, modules kept, times pinned, root-owned.
  const list = async (name: string): Promise<string[]> => {
    await got(name);
    const sq = join(dir, `member-${name}`);
    const r = await run("unsquashfs", ["-lls", "-n", sq], { timeoutMs: 30_000, env: { TZ: "UTC" } });
    return r.stdout
      .toString()
      .trim()
      .split("\n")
      .filter((l) => l.includes("squashfs-root"));
  };
  const names = (lines: string[]): string[] => lines.map((l) => l.slice(l.indexOf("squashfs-root")));
  assert.deepEqual(names(await list("1.sqsh")), [
    "squashfs-root",
    "squashfs-root/usr",
    "squashfs-root/usr/lib",
  ]);
  assert.deepEqual(names(await list("2.sqsh")), [
    "squashfs-root",
    "squashfs-root/usr",
    "squashfs-root/usr/lib",
  ]);
  const modLayer = await list("3.sqsh");
  assert.ok(names(modLayer).includes(`squashfs-root/usr/lib/modules/${mods.kver}/extras/dummy.ko`));
  for (const l of [...modLayer, ...(await list("0.sqsh"))]) {
    assert.match(l, / root\/root /);
    assert.match(l, / 2023-11-14 22:13 /);
  }
  const cfgLayer = await list("4.sqsh");
  assert.match(cfgLayer.find((l) => l.endsWith("config.yaml")) ?? "", /^-r-------- root\/root/);

  const depTree = join(dir, "modules-dep-tree");
  await got("modules.dep.sqsh");
  await run("unsquashfs", ["-no-xattrs", "-d", depTree, "-f", "-n", join(dir, "member-modules.dep.sqsh")], {
    timeoutMs: 30_000,
  });
  const depDir = join(depTree, "usr/lib/modules", mods.kver);
  const dep = await readFile(join(depDir, "modules.dep"), "utf8");
  assert.match(dep, /^extras\/dummy\.ko:/m);
  assert.match(dep, /^kernel\/drivers\/block\/loop\.ko:/m);
  assert.match(await readFile(join(depDir, "modules.alias"), "utf8"), /alias rtnl-link-dummy dummy/);
  assert.ok((await readdir(depDir)).every((n) => n.startsWith("modules.")));

  const second = await build(2);
  assert.ok(
    (await readFile(first.path)).equals(await readFile(second.path)),
    "two builds are byte-identical",
  );
  assert.deepEqual(
    await Promise.all(exts.map((e) => treeSnapshot(e.dir))),
    untouched,
    "the extension trees are unchanged",
  );
});

/** Every entry under `root`: path, type and mode, and a file's content hash or a link's target. */
async function treeSnapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const path = join(root, rel);
    const st = await lstat(path);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isDirectory()) {
      out.push(`${rel}/ ${mode}`);
      for (const name of (await readdir(path)).sort()) await walk(rel === "" ? name : `${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      out.push(`${rel} -> ${await readlink(path)}`);
    } else {
      out.push(
        `${rel} ${mode} ${createHash("sha256")
          .update(await readFile(path))
          .digest("hex")}`,
      );
    }
  };
  await walk("");
  return out;
}

test("old versions: xz layers and append, /lib paths, string-sorted order with 11 extensions", async () => {
  const exts: ExtensionInput[] = [];
  for (let i = 0; i < 11; i++) {
    exts.push(
      await extension(
        `old${i}`,
        i === 3 ? { "lib/firmware/x.bin": "X" } : { [`usr/local/share/old${i}`]: "" },
      ),
    );
  }
  const r = await rebuildInitramfs({
    baseInitramfs: base,
    arch: "arm64",
    quirks: new Quirks("v1.7.4"),
    extensions: exts,
    workDir: join(dir, "work-old"),
    sourceDateEpoch: EPOCH,
  });
  assert.equal(r.earlyMicrocode, false);
  assert.deepEqual(
    r.layers.map((l) => `${l.image}=${l.metadata.name}`),
    ["0", "1", "10", "2", "3", "4", "5", "6", "7", "8", "9"].map((n) => `${n}.sqsh=old${n}`),
  );
  const members = await listCpioFile(r.path);
  const layers = members.filter((m) => m.archive === 1);
  assert.ok(layers.length === 11 && layers.every((m) => m.compression === "xz" && m.name.endsWith(".sqsh")));
  const tail = members.filter((m) => m.archive === 2);
  assert.ok(tail.every((m) => m.compression === "xz"));
  assert.ok(tail.some((m) => m.name === "lib/firmware/x.bin"));
  assert.ok(tail.some((m) => m.name === "extensions.yaml"));
  await extractCpioMember(r.path, "10.sqsh", join(dir, "old10.sqsh"));
  const info = await run("unsquashfs", ["-s", join(dir, "old10.sqsh")], { timeoutMs: 30_000 });
  assert.match(info.stdout.toString(), /Compression xz/);
});

test("extensions are validated: version constraint and layout", async () => {
  const common = {
    baseInitramfs: base,
    arch: "amd64" as const,
    quirks: new Quirks("v1.9.2"),
    workDir: join(dir, "work-bad"),
    sourceDateEpoch: EPOCH,
  };
  const newer = await extension("too-new", { "usr/local/x": "" }, ">= v1.10.0");
  await assert.rejects(
    rebuildInitramfs({ ...common, extensions: [newer] }),
    (e: Error & { kind?: string }) =>
      e.kind === "invalid-input" &&
      e.message ===
        `error validating extension "too-new": version constraint >= v1.10.0 can't be satisfied with Talos version 1.9.2`,
  );
  const broken = join(dir, "ext", "broken");
  await put(join(broken, "rootfs/usr/local/x"), "");
  await assert.rejects(
    rebuildInitramfs({ ...common, extensions: [{ dir: broken }] }),
    (e: Error & { kind?: string }) =>
      e.kind === "invalid-input" && /error loading extension 0/.test(e.message),
  );
  const none = await rebuildInitramfs({ ...common, extensions: [] });
  assert.equal(none.path, base);
});

// ---------------------------------------------------------------------------------------------
// Hostile extensions: symlinks must never pull host files into the build.

/** Every regular file's bytes in the output, squashfs layers unpacked (never following symlinks). */
async function outputContents(initramfs: string, scratch: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  await readCpioFile(initramfs, (m) => {
    if ((m.mode & 0o170000) !== 0o100000) return "skip";
    const parts: Buffer[] = [];
    files.set(`${m.archive}:${m.name}`, Buffer.alloc(0));
    return new Writable({
      write(chunk: Buffer, _e, cb) {
        parts.push(chunk);
        files.set(`${m.archive}:${m.name}`, Buffer.concat(parts));
        cb();
      },
    });
  });
  for (const [key, data] of [...files]) {
    if (!key.endsWith(".sqsh")) continue;
    const sq = join(scratch, key.replaceAll(/[:/]/g, "_"));
    await writeFile(sq, data);
    const tree = `${sq}.d`;
    await run("unsquashfs", ["-no-xattrs", "-d", tree, "-f", "-n", sq], { timeoutMs: 60_000 });
    const walk = async (rel: string): Promise<void> => {
      for (const name of await readdir(join(tree, rel))) {
        const r = rel ? `${rel}/${name}` : name;
        const st = await lstat(join(tree, r));
        if (st.isDirectory()) await walk(r);
        else if (st.isFile()) files.set(`${key}!${r}`, await readFile(join(tree, r)));
      }
    };
    await walk("");
  }
  return files;
}

test("symlinks in extensions never bring host files into the initramfs", async () => {
  const marker = `host-only-${createHash("sha256").update(dir).digest("hex").slice(0, 16)}`;
  const secret = join(dir, "host", "shadow");
  await put(secret, `${marker}\n`);
  const hostDir = join(dir, "host", "fwdir");
  await put(join(hostDir, "fw.bin"), `${marker}\n`);
  const quirks = new Quirks("v1.10.0");
  const escape = `${"../".repeat(24)}${secret.slice(1)}`;
  const rebuild = (name: string, extensions: ExtensionInput[]) =>
    rebuildInitramfs({
      baseInitramfs: base,
      arch: "amd64",
      quirks,
      extensions,
      workDir: join(dir, `work-${name}`),
      output: join(dir, `initramfs-${name}.xz`),
      sourceDateEpoch: EPOCH,
    });

  // (a) absolute and (c) relative escaping firmware symlinks, plus one outside the firmware tree.
  const leaky = await extension("leaky-firmware", { "usr/lib/firmware/ok.bin": "OK" });
  const fw = join(leaky.dir, "rootfs/usr/lib/firmware");
  await symlink(secret, join(fw, "leak.bin"));
  await symlink(escape, join(fw, "rel-leak.bin"));
  await mkdir(join(leaky.dir, "rootfs/usr/local/bin"), { recursive: true });
  await symlink(secret, join(leaky.dir, "rootfs/usr/local/bin/leak"));
  const r = await rebuild("leaky", [leaky]);
  const members = await listCpioFile(r.path);
  const member = (name: string) => members.find((m) => m.name === name);
  for (const [name, target] of [
    ["usr/lib/firmware/leak.bin", secret],
    ["usr/lib/firmware/rel-leak.bin", escape],
  ] as const) {
    assert.equal((member(name)?.mode ?? 0) & 0o170000, 0o120000, `${name} stays a symlink`);
    assert.equal(member(name)?.target, target);
  }
  const scratch = join(dir, "scan-leaky");
  await mkdir(scratch);
  const contents = await outputContents(r.path, scratch);
  const layer = `${member("0.sqsh")?.archive}:0.sqsh`;
  assert.ok(contents.has(layer), "the layer was unpacked and scanned");
  assert.equal(
    contents.get(`${member("usr/lib/firmware/ok.bin")?.archive}:usr/lib/firmware/ok.bin`)?.toString(),
    "OK",
  );
  for (const [name, data] of contents) assert.ok(!data.includes(marker), `host secret leaked into ${name}`);
  // mksquashfs keeps symlinks as symlinks too.
  const sq = join(scratch, layer.replace(":", "_"));
  const ls = await run("unsquashfs", ["-lls", "-n", sq], { timeoutMs: 30_000 });
  assert.match(ls.stdout.toString(), new RegExp(`^l.* squashfs-root/usr/local/bin/leak -> ${secret}$`, "m"));

  // (b) microcode is read only from regular files inside the rootfs: an escaping symlink is refused.
  const ucode = await extension("leaky-ucode", { "usr/lib/firmware/intel-ucode/06-01-01": "A" });
  await symlink(secret, join(ucode.dir, "rootfs/usr/lib/firmware/intel-ucode/x"));
  await assert.rejects(rebuild("ucode", [ucode]), (e) => {
    assert.ok(isBootforgeError(e, "invalid-input"), String(e));
    assert.match(e.message, /leaky-ucode/);
    assert.match(e.message, /usr\/lib\/firmware\/intel-ucode\/x/);
    return true;
  });

  // The firmware directory itself pointing at a host directory is refused.
  const fwLink = await extension("leaky-fw-dir", { "usr/local/x": "" });
  await mkdir(join(fwLink.dir, "rootfs/usr/lib"), { recursive: true });
  await symlink(hostDir, join(fwLink.dir, "rootfs/usr/lib/firmware"));
  await assert.rejects(rebuild("fw-dir", [fwLink]), (e) => {
    assert.ok(isBootforgeError(e, "invalid-input"), String(e));
    assert.match(e.message, /leaky-fw-dir.*usr\/lib\/firmware/);
    return true;
  });

  // Kernel modules: a symlinked module index or module pointing at the host is refused.
  const kmod = await extension("leaky-modules", {
    [`usr/lib/modules/${mods.kver}/extras/dummy.ko`]: await readFile(
      join(mods.dir, "kernel/drivers/net/dummy.ko"),
    ),
  });
  await symlink(secret, join(kmod.dir, `rootfs/usr/lib/modules/${mods.kver}/extras/modules.leak`));
  await symlink(escape, join(kmod.dir, `rootfs/usr/lib/modules/${mods.kver}/modules.alias.leak`));
  await assert.rejects(rebuild("modules", [kmod]), (e) => {
    assert.ok(isBootforgeError(e, "invalid-input"), String(e));
    assert.match(e.message, /leaky-modules/);
    assert.match(e.message, /modules\.(leak|alias\.leak)/);
    return true;
  });

  // A symlinked firmware directory from one extension must not let a later one write through it.
  const first = await extension("fw-dir-link", { "usr/lib/firmware/a.bin": "A" });
  await symlink(hostDir, join(first.dir, "rootfs/usr/lib/firmware/vendor"));
  const second = await extension("fw-dir-real", { "usr/lib/firmware/vendor/pwned.bin": "PWNED" });
  await rebuild("write-through", [first, second]).catch((e: unknown) => {
    assert.ok(isBootforgeError(e, "invalid-input"), String(e));
  });
  assert.deepEqual(await readdir(hostDir), ["fw.bin"], "nothing written into the host directory");
  assert.equal(await readlink(join(first.dir, "rootfs/usr/lib/firmware/vendor")), hostDir);
});

/**
 * Test support: two real kernel modules (and the kernel's modules.builtin) from a Debian kernel
 * package, extracted once into `.cache/initramfs-test/`. Uses a package already in the apt cache
 * when there is one, otherwise `apt-get download`s the cloud kernel.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "../../../../test/helpers/shared.js";

export interface TestModules {
  kver: string;
  /** `<dir>/lib/modules/<kver>/` holding kernel/drivers/block/loop.ko, kernel/drivers/net/dummy.ko, modules.builtin, modules.order. */
  dir: string;
}

const WANT = [
  "kernel/drivers/block/loop.ko",
  "kernel/drivers/net/dummy.ko",
  "modules.builtin",
  "modules.order",
];

function findDeb(cache: string): string {
  const pick = (d: string): string | undefined =>
    existsSync(d)
      ? readdirSync(d)
          .filter((f) => /^linux-image-\d.*-amd64_.*\.deb$/.test(f) && !f.includes("-dbg"))
          .map((f) => join(d, f))
          .sort()[0]
      : undefined;
  const found = pick("/var/cache/apt/archives") ?? pick(cache);
  if (found) return found;
  const deps = execFileSync("apt-cache", ["depends", "linux-image-cloud-amd64"], { encoding: "utf8" });
  const pkg = /Depends: (linux-image-\S+)/.exec(deps)?.[1];
  if (!pkg) throw new Error("no Debian kernel package found for the test modules");
  execFileSync("apt-get", ["download", pkg], { cwd: cache, stdio: "ignore", timeout: 300_000 });
  const got = pick(cache);
  if (!got) throw new Error(`apt-get download ${pkg} produced no package`);
  return got;
}

/** The cached test modules, extracting them on first use. */
export function testKernelModules(): TestModules {
  const cache = join(REPO_ROOT, ".cache", "initramfs-test");
  const done = join(cache, "modules");
  if (!existsSync(done)) {
    mkdirSync(cache, { recursive: true });
    const deb = findDeb(cache);
    const tmp = join(cache, "extract.tmp");
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const tar = execFileSync("dpkg-deb", ["--fsys-tarfile", deb], { maxBuffer: 1 << 30 });
    execFileSync("tar", ["-x", "--wildcards", ...WANT.map((w) => `./lib/modules/*/${w}`)], {
      cwd: tmp,
      input: tar,
    });
    renameSync(tmp, done);
  }
  const kver = readdirSync(join(done, "lib/modules"))[0]!;
  return { kver, dir: join(done, "lib/modules", kver) };
}

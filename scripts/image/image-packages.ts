/**
 * The Debian 13 packages of the container image, per architecture: Node.js and every program the
 * imager runs, with their dependency closure resolved from the mirror's `Packages` indices and
 * pinned in `scripts/image/packages.lock.json` (name, version and sha256 of every package of the
 * closure). A build follows the lock; `--update-lock` re-resolves it from the mirror. As for the
 * fixture release, a locked version the mirror no longer serves is replaced by the mirror's
 * current closure with one warning line, so a mirror rotation never stops a build.
 */
import { existsSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { BootforgeError } from "../../src/errors/index.js";
import { TOOL_PACKAGES } from "../../src/imager/tools/registry.js";
import {
  AptMirror,
  PROFILE_SUITE,
  debFile,
  sha256File,
  type Arch,
  type DebArch,
  type DebInput,
  type Stanza,
} from "../../fixtures/lib/debian-inputs.js";
import { parseLockJson } from "../../fixtures/lib/input-lock.js";
import { DebianIndex } from "./debian-index.js";

/** The Debian release the image is assembled from (Node.js 20 and systemd-era tools). */
export const IMAGE_SUITE = PROFILE_SUITE;

/** Packages of the registry that only the fixture builder and its tests run. */
const NOT_IN_IMAGE = new Set(["apt", "dpkg", "skopeo"]);

/**
 * What the image installs (their dependencies follow): Node.js, the package of every program the
 * imager runs (src/imager/tools/registry.ts), libfaketime (preloaded, not run), the CA
 * certificates the registry client trusts, and the shell and `setsid` the tool launcher
 * (src/imager/tools/launcher.ts) starts programs from. Debian marks the last two essential, so no
 * package depends on them.
 */
export function rootPackages(): string[] {
  const tools = Object.values(TOOL_PACKAGES).filter((p) => !NOT_IN_IMAGE.has(p));
  return [...new Set(["nodejs", ...tools, "libfaketime", "ca-certificates", "dash", "util-linux"])].sort();
}

/** One pinned package of the closure. */
interface LockedPackage {
  version: string;
  arch: Arch | "all";
  sha256: string;
}

const LockSchema = z
  .object({
    about: z.string().optional(),
    suite: z.string(),
    roots: z.array(z.string()),
    packages: z.partialRecord(
      z.enum(["amd64", "arm64"]),
      z.record(
        z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/),
        z
          .object({
            version: z.string().regex(/^[A-Za-z0-9.+~:-]+$/),
            arch: z.enum(["amd64", "arm64", "all"]),
            sha256: z.string().regex(/^[0-9a-f]{64}$/),
          })
          .strict(),
      ),
    ),
  })
  .strict();

type ImageLock = z.infer<typeof LockSchema>;

const ABOUT =
  "Debian packages of the container image (npm run image), the whole dependency closure per " +
  "architecture, pinned. `npm run image -- --update-lock` rewrites it from the mirror.";

async function readImageLock(path: string): Promise<ImageLock | undefined> {
  if (!existsSync(path)) return undefined;
  return parseLockJson(await readFile(path, "utf8"), path, LockSchema);
}

async function writeImageLock(path: string, lock: ImageLock): Promise<void> {
  const sorted = (r: Record<string, LockedPackage>): Record<string, LockedPackage> =>
    Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : 1)));
  const packages = Object.fromEntries(
    Object.entries(lock.packages)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([arch, r]) => [arch, sorted(r)]),
  );
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(
    tmp,
    JSON.stringify({ about: ABOUT, suite: lock.suite, roots: lock.roots, packages }, null, 2) + "\n",
  );
  await rename(tmp, path);
}

/** Where the packages come from and go. */
export interface PackageOptions {
  /** Cache of apt state (`apt-<suite>`). */
  cache: string;
  /** Directory of downloaded `.deb` files. */
  debs: string;
  lock: string;
  updateLock?: boolean;
  log: (line: string) => void;
}

/** The mirror's current closure of the roots for `arch`. */
async function resolveClosure(
  mirror: AptMirror,
  arch: Arch,
  roots: string[],
): Promise<Record<string, LockedPackage>> {
  await mirror.update();
  const index = await DebianIndex.load(mirror.listsDir, arch);
  const out: Record<string, LockedPackage> = {};
  for (const p of index.closure(roots))
    out[p.name] = { version: p.version, arch: p.arch as Arch | "all", sha256: p.sha256 };
  return out;
}

/**
 * The packages of the image for each of `arches`, downloaded into `opts.debs` and checked against
 * their sha256, sorted by name.
 */
export async function imagePackages(
  arches: readonly Arch[],
  opts: PackageOptions,
): Promise<Record<Arch, DebInput[]>> {
  const roots = rootPackages();
  const existing = await readImageLock(opts.lock);
  const lock = opts.updateLock === true ? undefined : existing;
  const mirror = new AptMirror(opts.cache, IMAGE_SUITE);
  const chosen: Partial<Record<Arch, Record<string, LockedPackage>>> = {};
  const out = {} as Record<Arch, DebInput[]>;
  for (const arch of arches) {
    let set =
      lock?.suite === IMAGE_SUITE && lock.roots.join(",") === roots.join(",")
        ? lock.packages[arch]
        : undefined;
    if (set === undefined && opts.updateLock !== true)
      opts.log(
        `image: warning: ${opts.lock} pins no closure of these packages for ${arch}; resolving from the mirror`,
      );
    // A locked package that is neither here nor on the mirror any more: re-resolve the closure.
    if (set !== undefined) {
      for (const [name, p] of Object.entries(set)) {
        if (existsSync(join(opts.debs, debFile(name, p.version, p.arch)))) continue;
        await mirror.update();
        const s = await mirror.stanza(name, p.arch, p.version);
        if (s === undefined) {
          opts.log(
            `image: warning: the mirror no longer serves ${name} ${p.version} (locked); using the mirror's ` +
              `current packages for ${arch} (npm run image -- --update-lock pins them)`,
          );
          set = undefined;
          break;
        }
        if (s.sha256 !== p.sha256)
          throw new BootforgeError(
            "dependency",
            `the mirror's ${name} ${p.version} has sha256 ${s.sha256}, ${opts.lock} says ${p.sha256}`,
          );
      }
    }
    set ??= await resolveClosure(mirror, arch, roots);
    chosen[arch] = set;
    const debs: DebInput[] = [];
    const missing: { s: Stanza; arch: DebArch; file: string }[] = [];
    for (const [name, p] of Object.entries(set).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const file = debFile(name, p.version, p.arch);
      const path = join(opts.debs, file);
      if (!existsSync(path) || (await sha256File(path)) !== p.sha256)
        missing.push({ s: { name, version: p.version, sha256: p.sha256 }, arch: p.arch, file });
      debs.push({ name, arch: p.arch, version: p.version, file, sha256: p.sha256 });
    }
    if (missing.length > 0) {
      opts.log(`image: ${arch}: downloading ${missing.length} packages`);
      await mirror.update();
      await mirror.downloadMany(missing, opts.debs);
      for (const m of missing) {
        const got = await sha256File(join(opts.debs, m.file));
        if (got !== m.s.sha256) {
          await rm(join(opts.debs, m.file), { force: true });
          throw new BootforgeError(
            "dependency",
            `downloaded ${m.file} has sha256 ${got}, expected ${m.s.sha256}`,
          );
        }
      }
    }
    out[arch] = debs;
  }
  if (opts.updateLock === true) {
    await writeImageLock(opts.lock, {
      suite: IMAGE_SUITE,
      roots,
      // Another architecture's pins stay when only some were re-resolved, if they pin these roots.
      packages: {
        ...(existing?.suite === IMAGE_SUITE && existing.roots.join(",") === roots.join(",")
          ? existing.packages
          : {}),
        ...chosen,
      },
    });
    opts.log(`image: wrote ${opts.lock}`);
  }
  return out;
}

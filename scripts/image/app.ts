/**
 * Bootforge itself as layer entries, the same for every architecture: the compiled `dist/src`
 * (tsc into a staging directory, the work tree's own `dist/` untouched), the production
 * `node_modules` (`npm ci --omit=dev --ignore-scripts` into a staging directory, refused if any
 * package carries native code, which would tie the layer to one architecture), `package.json`,
 * the `bin/` launchers, and `/usr/local/bin` entry points next to each other.
 * Both stagings are cached under a digest of what they are made from.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, cp, lstat, mkdir, readdir, readFile, readlink, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { BootforgeError } from "../../src/errors/index.js";
import type { LayerEntry } from "../../src/oci/layer-builder.js";

/** Where the application lives in the image. */
export const APP_DIR = "app";

const exec = promisify(execFile);

async function filesUnder(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const r = rel === "" ? name : `${rel}/${name}`;
    const st = await lstat(join(root, r));
    if (st.isDirectory()) out.push(...(await filesUnder(root, r)));
    else out.push(r);
  }
  return out;
}

/** A digest of the named files' paths and bytes. */
async function digestOf(repo: string, files: readonly string[]): Promise<string> {
  const h = createHash("sha256");
  for (const f of [...files].sort()) {
    h.update(`${f}\0`);
    h.update(await readFile(join(repo, f)));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 16);
}

/** Runs `make(tmp)` into a fresh temporary sibling of `dir` and renames it into place. */
async function staged(dir: string, make: (tmp: string) => Promise<void>): Promise<string> {
  if (existsSync(dir)) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  try {
    await make(tmp);
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** `dist/` compiled from the work tree's sources into `<cache>/dist-<digest>`. */
export async function compiledDist(repo: string, cache: string, log: (l: string) => void): Promise<string> {
  const sources = (await filesUnder(join(repo, "src"))).map((f) => `src/${f}`);
  const digest = await digestOf(repo, [
    ...sources,
    "tsconfig.json",
    "tsconfig.build.json",
    "package-lock.json",
  ]);
  return staged(join(cache, `dist-${digest}`), async (tmp) => {
    log("image: compiling dist/ (tsc -p tsconfig.build.json)");
    await exec(
      process.execPath,
      [
        join(repo, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        join(repo, "tsconfig.build.json"),
        "--outDir",
        tmp,
      ],
      { cwd: repo, maxBuffer: 64 * 1024 * 1024 },
    ).catch((e: unknown) => {
      const err = e as { stdout?: string; message: string };
      throw new BootforgeError("dependency", `tsc failed: ${err.stdout ?? err.message}`);
    });
    // Data the compiled tree reads beside its modules (as scripts/build.sh copies it).
    await cp(
      join(repo, "src", "imager", "secureboot", "well-known"),
      join(tmp, "src", "imager", "secureboot", "well-known"),
      { recursive: true },
    );
  });
}

/** Production `node_modules` for the work tree's lock in `<cache>/node-modules-<digest>`. */
export async function productionModules(
  repo: string,
  cache: string,
  log: (l: string) => void,
): Promise<string> {
  const digest = await digestOf(repo, ["package.json", "package-lock.json"]);
  const dir = await staged(join(cache, `node-modules-${digest}`), async (tmp) => {
    log("image: installing production dependencies (npm ci --omit=dev --ignore-scripts)");
    await copyFile(join(repo, "package.json"), join(tmp, "package.json"));
    await copyFile(join(repo, "package-lock.json"), join(tmp, "package-lock.json"));
    await exec(
      "npm",
      ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--engine-strict"],
      {
        cwd: tmp,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, npm_config_update_notifier: "false" },
      },
    ).catch((e: unknown) => {
      const err = e as { stderr?: string; message: string };
      throw new BootforgeError("dependency", `npm ci --omit=dev failed: ${err.stderr ?? err.message}`);
    });
  });
  const native = (await filesUnder(join(dir, "node_modules"))).filter((f) =>
    /(\.node|(^|\/)binding\.gyp)$/.test(f),
  );
  if (native.length > 0)
    throw new BootforgeError(
      "unsupported",
      `production dependencies carry native code (${native.join(", ")}): the image's application layer must be the same for every architecture`,
    );
  return join(dir, "node_modules");
}

async function treeEntries(
  src: string,
  dest: string,
  skip: (rel: string) => boolean = () => false,
): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [{ path: dest, type: "directory" }];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(src, rel))).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      if (skip(r)) continue;
      const full = join(src, r);
      const st = await lstat(full);
      const path = `${dest}/${r}`;
      if (st.isDirectory()) {
        out.push({ path, type: "directory" });
        await visit(r);
      } else if (st.isSymbolicLink()) {
        out.push({ path, type: "symlink", linkname: await readlink(full), mode: 0o777 });
      } else if (st.isFile()) {
        // Only the permission a reader needs is kept: executable or not.
        out.push({ path, type: "file", source: full, mode: st.mode & 0o111 ? 0o755 : 0o644 });
      }
    }
  };
  await visit("");
  return out;
}

/** The application's entries (everything under `/app`, and the two commands in `/usr/local/bin`). */
export async function appEntries(repo: string, dist: string, nodeModules: string): Promise<LayerEntry[]> {
  const a = APP_DIR;
  const out: LayerEntry[] = [
    { path: a, type: "directory" },
    { path: `${a}/package.json`, source: join(repo, "package.json") },
    ...(await treeEntries(join(dist, "src"), `${a}/dist/src`, (r) => /(^|\/)testing(\/|$)/.test(r))),
    { path: `${a}/dist`, type: "directory" },
    ...(await treeEntries(nodeModules, `${a}/node_modules`)),
    { path: `${a}/bin`, type: "directory" },
  ];
  for (const f of ["launch.js", "imager.js", "image-factory.js"])
    out.push({
      path: `${a}/bin/${f}`,
      source: join(repo, "bin", f),
      mode: f === "launch.js" ? 0o644 : 0o755,
    });
  out.push(
    { path: "usr/local", type: "directory" },
    { path: "usr/local/bin", type: "directory" },
    { path: "usr/local/bin/image-factory", type: "symlink", linkname: `/${a}/bin/image-factory.js` },
    { path: "usr/local/bin/imager", type: "symlink", linkname: `/${a}/bin/imager.js` },
  );
  return out;
}

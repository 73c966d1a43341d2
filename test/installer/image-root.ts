/**
 * Puts a pulled installer image to work on the host: flattens the single image of an OCI layout
 * into a root directory (layers in order, OCI whiteouts applied), and runs the image's entrypoint
 * in bubblewrap over that root with named host tools (and the shared libraries they load) bound
 * in, no network, and one disk file as the only host path it can write.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, realpathSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { BootforgeError } from "../../src/errors/index.js";

const run = promisify(execFile);

interface Descriptor {
  digest: string;
  mediaType?: string;
}

/** What {@link flattenImage} found in the image. */
export interface FlatImage {
  root: string;
  /** The config's Entrypoint and Env. */
  entrypoint: string[];
  env: string[];
  /** Layer digests, bottom first. */
  layers: string[];
}

const blob = (layout: string, d: Descriptor) => join(layout, "blobs", ...d.digest.split(":"));
const readJson = async <T>(path: string): Promise<T> => JSON.parse(await readFile(path, "utf8")) as T;

/** Extracts the layout's one image (`index.json` naming a single manifest) into `root`. */
export async function flattenImage(layout: string, root: string): Promise<FlatImage> {
  const index = await readJson<{ manifests: Descriptor[] }>(join(layout, "index.json"));
  if (index.manifests.length !== 1 || index.manifests[0] === undefined)
    throw new BootforgeError(
      "invalid-input",
      `${layout}: expected one image, found ${index.manifests.length}`,
    );
  const manifest = await readJson<{ config: Descriptor; layers: Descriptor[] }>(
    blob(layout, index.manifests[0]),
  );
  const config = await readJson<{ config?: { Entrypoint?: string[]; Env?: string[] } }>(
    blob(layout, manifest.config),
  );
  await run("mkdir", ["-p", root]);
  for (const layer of manifest.layers) {
    const path = blob(layout, layer);
    // Whiteouts name what lower layers put there: delete that first, then extract the rest.
    const { stdout } = await run("tar", ["-tf", path], { maxBuffer: 64 << 20 });
    for (const entry of stdout.split("\n")) {
      const name = basename(entry);
      if (!name.startsWith(".wh.")) continue;
      const parent = join(root, dirname(entry));
      if (!parent.startsWith(root))
        throw new BootforgeError("invalid-input", `whiteout outside the root: ${entry}`);
      if (name === ".wh..wh..opq")
        await run("find", [parent, "-mindepth", "1", "-delete"]).catch(() => undefined);
      else await rm(join(parent, name.slice(".wh.".length)), { recursive: true, force: true });
    }
    // As root, GNU tar keeps owners and modes (the artifacts layer's files have mode 0, as upstream's).
    await run("tar", ["-xf", path, "-C", root, "--same-owner", "-p", "--exclude=.wh.*"]);
  }
  return {
    root,
    entrypoint: config.config?.Entrypoint ?? [],
    env: config.config?.Env ?? [],
    layers: manifest.layers.map((l) => l.digest),
  };
}

/** Where the host tools appear inside the sandbox (on PATH after the image's own directories). */
export const HOST_TOOLS_DIR = "/opt/host-tools/bin";

/**
 * bwrap arguments binding each host tool at `HOST_TOOLS_DIR/<name>` (under its own name, so
 * multi-call binaries such as mtools dispatch on it) and every shared library `ldd` lists for it
 * at the path the dynamic loader looks for it.
 */
export async function hostToolBinds(tools: readonly string[]): Promise<string[]> {
  const binds = new Map<string, string>();
  for (const tool of tools) {
    const { stdout: which } = await run("sh", ["-c", 'command -v "$1"', "sh", tool]).catch(() => {
      throw new BootforgeError("dependency", `${tool} not found on the host`);
    });
    const real = realpathSync(which.trim());
    binds.set(join(HOST_TOOLS_DIR, tool), real);
    const { stdout } = await run("ldd", [real]).catch(() => ({ stdout: "" })); // static: none
    for (const line of stdout.split("\n")) {
      const m = /^\s*(?:\S+ => )?(\/\S+) \(0x/.exec(line);
      if (!m?.[1]) continue;
      binds.set(m[1], realpathSync(m[1]));
      // iconv's character set modules, which glibc loads at run time from its compiled-in
      // (merged-/usr) directory: mtools converts FAT names through the DOS code page with them.
      const gconv = join(dirname(realpathSync(m[1])), "gconv");
      if (basename(m[1]).startsWith("libc.so") && existsSync(gconv)) binds.set(gconv, gconv);
    }
  }
  return [...binds].flatMap(([at, from]) => ["--ro-bind", from, at]);
}

/** A finished sandboxed run. */
export interface SandboxRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `argv` in bubblewrap with `root` as `/` (writable: it is the caller's scratch copy), a
 * fresh /dev, /proc and /tmp, no network or other namespaces shared, a clean environment, the
 * host tools bound in and `disk` bound at `diskAt`.
 */
export async function runInSandbox(o: {
  root: string;
  argv: string[];
  env: Record<string, string>;
  hostTools: readonly string[];
  disk: string;
  diskAt: string;
  timeoutMs: number;
}): Promise<SandboxRun> {
  const args = [
    "--bind", o.root, "/",
    "--dev", "/dev",
    "--proc", "/proc",
    "--tmpfs", "/tmp",
    "--unshare-all",
    "--die-with-parent",
    "--clearenv",
    ...(await hostToolBinds(o.hostTools)),
    "--bind", o.disk, o.diskAt,
    ...Object.entries(o.env).flatMap(([k, v]) => ["--setenv", k, v]),
    "--",
    ...o.argv,
  ]; // prettier-ignore
  return new Promise((resolve, reject) => {
    const child = spawn("bwrap", args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs);
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        e.code === "ENOENT" ? new BootforgeError("dependency", "bwrap not found: install bubblewrap") : e,
      );
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * `npm run image -- --out <oci-archive> | --push <registry/repo:tag> [--update-lock]`: builds
 * Bootforge's container image (amd64 and arm64 in one index) from Debian 13 packages and the
 * compiled tree, without a container engine or root. Prints the index digest on stdout.
 */
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Command } from "commander";
import { BootforgeError } from "../../src/errors/index.js";
import { buildTimestamp } from "../../src/imager/source-date-epoch.js";
import { ARCHES, type Arch } from "../../fixtures/lib/debian-inputs.js";
import { buildContainerImage } from "./build.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const program = new Command("image")
  .description("Build Bootforge's container image (OCI index of linux/amd64 and linux/arm64)")
  .option("--out <file>", "write the image as an OCI tar (oci-archive)")
  .option(
    "--push <reference>",
    "push the image index to this reference, e.g. registry.example/bootforge:v0.1.0",
  )
  .option("--insecure", "push over plain HTTP (a registry on loopback)", false)
  .option("--arch <list>", "comma-separated architectures", ARCHES.join(","))
  .option("--source <url>", "org.opencontainers.image.source (default: the git remote origin)")
  .option("--name <name>", "the image's name in the OCI tar's index (default bootforge:<version>)")
  .option("--cache <dir>", "cache of Debian packages and build stagings", join(REPO, ".cache", "image"))
  .option(
    "--lock <file>",
    "lock of the image's Debian packages",
    join(REPO, "scripts", "image", "packages.lock.json"),
  )
  .option("--update-lock", "resolve the packages' closure against the mirror and rewrite the lock", false);

program.parse();
const o = program.opts<{
  out?: string;
  push?: string;
  insecure: boolean;
  arch: string;
  source?: string;
  name?: string;
  cache: string;
  lock: string;
  updateLock: boolean;
}>();
const log = (l: string): void => void process.stderr.write(l + "\n");

try {
  const arches = o.arch.split(",").map((a) => a.trim());
  for (const a of arches)
    if (!(ARCHES as readonly string[]).includes(a))
      throw new BootforgeError(
        "invalid-input",
        `--arch: unknown architecture "${a}" (known: ${ARCHES.join(", ")})`,
      );
  // Reproducible by default: the time of the commit built, unless SOURCE_DATE_EPOCH says otherwise.
  const committed = await promisify(execFile)("git", ["log", "-1", "--format=%ct"], { cwd: REPO }).then(
    (r) => r.stdout.trim(),
    () => "",
  );
  const epoch = buildTimestamp({ SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH || committed });
  const origin = await promisify(execFile)("git", ["remote", "get-url", "origin"], { cwd: REPO }).then(
    (r) => r.stdout.trim() || undefined,
    () => undefined,
  );
  const sourceUrl = o.source ?? origin;
  const started = Date.now();
  const res = await buildContainerImage({
    repo: REPO,
    cache: resolve(o.cache),
    lock: resolve(o.lock),
    updateLock: o.updateLock,
    arches: arches as Arch[],
    epoch,
    ...(sourceUrl !== undefined ? { sourceUrl } : {}),
    ...(o.out !== undefined ? { out: resolve(o.out) } : {}),
    ...(o.push !== undefined ? { push: o.push } : {}),
    ...(o.name !== undefined ? { name: o.name } : {}),
    insecure: o.insecure,
    log,
  });
  for (const p of res.platforms)
    log(`image: linux/${p.arch} ${p.manifest}: ${(p.bytes / 1024 ** 2).toFixed(1)} MiB compressed`);
  if (res.digest !== "") {
    log(`image: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(`${res.digest}\n`);
  }
} catch (e) {
  log(`image: error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = e instanceof BootforgeError && e.kind === "invalid-input" ? 2 : 1;
}

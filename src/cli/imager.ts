/** The `imager` command line: upstream-compatible flags over the profile resolver and the build pipeline. */
import { existsSync, readFileSync } from "node:fs";
import { constants as osConstants, homedir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { keyPath } from "../imager/pipeline/inputs.js";
import { DEFAULT_KEYS_DIR } from "../imager/secureboot/keys.js";
import { exitCodeOf, invalidInput, ioError, isBootforgeError } from "../errors/index.js";
import type { ReleaseSource } from "../release/release-source.js";
import { BUILTIN_PROFILE_NAMES } from "../profile/builtin.js";
import { parseProfileYaml } from "../profile/decode.js";
import {
  defaultImagerFlags,
  goArch,
  normalizeTalosVersion,
  profileFromFlags,
  type ImagerFlags,
} from "../profile/imager-flags.js";
import { OUTPUT_KINDS, SDBOOT_ENROLL_KEYS, type Profile } from "../profile/model.js";
import { resolveProfile } from "../profile/resolve.js";
import { dumpProfile } from "../profile/serialize.js";

/** Bootforge-only options of the CLI (where inputs, keys and the cache live). */
export interface BootforgeOptions {
  /** `oci-layout:<dir>` or `<registry>[/<namespace>]`; default `ghcr.io/siderolabs`. */
  releaseSource: string;
  /** Replaces `/secureboot` in key paths. */
  keysDir: string;
  /** Extracted image cache. */
  cacheDir: string;
}

/** What one imager run resolved to: the build plugs in here. */
export interface ImagerRun {
  /** The fully resolved profile (what upstream prints after `profile ready:`). */
  profile: Profile;
  flags: ImagerFlags;
  options: BootforgeOptions;
}

/** Default output directory: upstream writes to `/out` inside its container; we write next to the user. */
export const DEFAULT_OUTPUT_DIR = "_out";

/** Default cache directory: `$BOOTFORGE_CACHE_DIR`, else `$XDG_CACHE_HOME/bootforge`, else `~/.cache/bootforge`. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.BOOTFORGE_CACHE_DIR) return env.BOOTFORGE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "bootforge");
}

/**
 * The release inputs for one version and architecture, from the `--release-source` location.
 * The registry client, the pipeline and their dependencies are loaded only when a run needs them:
 * `--help`, `--dry-run` and usage errors answer without them (start-up is most of their time).
 */
async function releaseFor(
  version: string,
  arch: string,
  flags: ImagerFlags,
  options: BootforgeOptions,
): Promise<ReleaseSource> {
  const [{ ReleaseSource }, { parseReleaseLocation }] = await Promise.all([
    import("../release/release-source.js"),
    import("../release/release-location.js"),
  ]);
  return new ReleaseSource({
    version,
    arch,
    cacheDir: options.cacheDir,
    location: parseReleaseLocation(options.releaseSource, { insecure: flags.insecure }),
  });
}

/** Runs the pipeline for a resolved invocation. */
async function build(run: ImagerRun): Promise<void> {
  const { profile, flags, options } = run;
  const [release, { build: buildAssets }, { ConsoleReporter }, { writeTarGz }] = await Promise.all([
    releaseFor(profile.version ?? "", profile.arch ?? "", flags, options),
    import("../imager/pipeline/index.js"),
    import("../imager/reporter/index.js"),
    import("./tar-output.js"),
  ]);
  const reporter = new ConsoleReporter(process.stderr);
  // Ctrl-C or SIGTERM stops the build cleanly: running tools are killed (they are not in the
  // terminal's process group) and the scratch directory is removed. A second signal kills.
  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => stop.abort(new Interrupted(signal));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await buildAssets(
      profile,
      { release, keysDir: options.keysDir },
      { outDir: flags.output, reporter, signal: stop.signal },
    );
    if (flags.tarToStdout) await writeTarGz(flags.output, process.stdout);
  } catch (e) {
    if (stop.signal.aborted) throw stop.signal.reason as Interrupted;
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** The build was stopped by a signal: exit 128 + its number, as a shell reports it. */
class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }

  get exitCode(): number {
    return 128 + (osConstants.signals[this.signal] ?? 0);
  }
}

/**
 * The overlay's base profiles for an invocation that names an overlay (upstream pulls the overlay
 * before resolving the profile, so `rpi_generic`-style names come from the overlay image).
 */
async function overlayProfilesFor(
  partial: Profile,
  flags: ImagerFlags,
  options: BootforgeOptions,
): Promise<Record<string, Profile> | undefined> {
  if (partial.overlay === undefined) return undefined;
  const version = partial.version ?? (flags.talosVersion ? normalizeTalosVersion(flags.talosVersion) : "");
  const arch = partial.arch || flags.arch;
  const { overlayBaseProfiles } = await import("../imager/pipeline/overlay.js");
  return overlayBaseProfiles(await releaseFor(version, arch, flags, options), partial);
}

const collect = (value: string, previous: string[]) => [...previous, value];

function program(flags: ImagerFlags): Command {
  const cmd = new Command("imager")
    .usage("<profile>|- [flags]")
    .description(
      "Generate various boot assets and images.\n\n" +
        "<profile> is a built-in profile name, or - to read a profile YAML from stdin.\n" +
        `Built-in profiles: ${BUILTIN_PROFILE_NAMES.join(", ")}.`,
    )
    .argument("<profile>", "built-in profile name, or - for a profile YAML on stdin")
    .helpOption("-h, --help", "help for imager")
    .allowExcessArguments(false)
    .option("--platform <platform>", "The value of talos.platform", flags.platform)
    .option("--arch <arch>", "The target architecture", flags.arch)
    .option("--base-installer-image <ref>", "Base installer image to use", flags.baseInstallerImage)
    .option("--image-cache <ref|path>", "Image cache container image or oci path", flags.imageCache)
    .option("--insecure", "Pull assets from insecure registry", false)
    .option("--extra-kernel-arg <arg>", "Extra argument to pass to the kernel (repeatable)", collect, [])
    .option("--meta <key=value>", "A key/value pair for META (repeatable; key 0-255, e.g. 0xa)", collect, [])
    .option(
      "--system-extension-image <ref>",
      "The image reference to the system extension to install (repeatable)",
      collect,
      [],
    )
    .option("--output <dir>", "The output directory path", flags.output)
    .option("--output-kind <kind>", `Override output kind (${OUTPUT_KINDS.slice(1).join(", ")})`, "")
    .option("--tar-to-stdout", "Tar output and send to stdout", false)
    .option("--overlay-name <name>", "The name of the overlay to use", flags.overlayName)
    .option("--overlay-image <ref>", "The image reference to the overlay", flags.overlayImage)
    .option(
      "--overlay-option <k=v|k=@file|@file.yaml>",
      "Extra options to pass to the overlay (repeatable)",
      collect,
      [],
    )
    .option(
      "--embedded-config-path <file>",
      "Path to a file containing the machine configuration to embed into the image",
      flags.embeddedConfigPath,
    )
    .option(
      "--secureboot-include-well-known-certs",
      "Include well-known (Microsoft) UEFI certificates when generating a secure boot database",
      false,
    )
    .option("--secureboot-signer-address <addr>", "gRPC unix:// address of a SecureBoot signer service", "")
    .option("--pcr-signer-address <addr>", "gRPC unix:// address of a PCR signer service", "")
    .option(
      "--secureboot-enroll-keys <mode>",
      `how systemd-boot enrolls SecureBoot keys on first boot (loader.conf secure-boot-enroll), one of: ${SDBOOT_ENROLL_KEYS.join(", ")}. Defaults to if-safe`,
      "",
    )
    .option("--secureboot", "Bootforge: force SecureBoot on, whatever the base profile says")
    .option("--no-secureboot", "Bootforge: force SecureBoot off")
    .option(
      "--talos-version <version>",
      "Bootforge: the Talos version to build for (e.g. v1.11.0); upstream takes it from its own image",
    )
    .option(
      "--release-source <location>",
      "Bootforge: where the release images come from: <registry>[/<namespace>] or oci-layout:<dir> (env BOOTFORGE_RELEASE_SOURCE)",
      process.env.BOOTFORGE_RELEASE_SOURCE ?? "ghcr.io/siderolabs",
    )
    .option(
      "--secureboot-keys-dir <dir>",
      "Bootforge: directory holding the SecureBoot keys (upstream mounts them at /secureboot)",
      DEFAULT_KEYS_DIR,
    )
    .option("--cache-dir <dir>", "Bootforge: cache of pulled and extracted images", defaultCacheDir())
    .option(
      "--dry-run",
      "Bootforge: print the resolved profile YAML on stdout and exit, without any build",
      false,
    )
    .configureHelp({ sortOptions: false });
  return cmd;
}

/** Maps commander's parsed options onto the upstream flag structure. */
function toFlags(opts: Record<string, unknown>, defaults: ImagerFlags): ImagerFlags {
  const str = (k: string, d: string) => (typeof opts[k] === "string" ? opts[k] : d);
  const list = (k: string) => (Array.isArray(opts[k]) ? (opts[k] as string[]) : []);
  const bool = (k: string) => opts[k] === true;
  return {
    ...defaults,
    platform: str("platform", defaults.platform),
    arch: str("arch", defaults.arch),
    baseInstallerImage: str("baseInstallerImage", ""),
    imageCache: str("imageCache", ""),
    insecure: bool("insecure"),
    extraKernelArg: list("extraKernelArg"),
    meta: list("meta"),
    systemExtensionImage: list("systemExtensionImage"),
    output: str("output", defaults.output),
    outputKind: str("outputKind", ""),
    tarToStdout: bool("tarToStdout"),
    overlayName: str("overlayName", ""),
    overlayImage: str("overlayImage", ""),
    overlayOption: list("overlayOption"),
    embeddedConfigPath: str("embeddedConfigPath", ""),
    securebootIncludeWellKnownCerts: bool("securebootIncludeWellKnownCerts"),
    securebootSignerAddress: str("securebootSignerAddress", ""),
    pcrSignerAddress: str("pcrSignerAddress", ""),
    securebootEnrollKeys: str("securebootEnrollKeys", ""),
    secureboot: typeof opts.secureboot === "boolean" ? opts.secureboot : undefined,
    talosVersion: typeof opts.talosVersion === "string" ? opts.talosVersion : undefined,
    dryRun: bool("dryRun"),
  };
}

function readTextFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    throw ioError(`error reading ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch (e) {
    throw ioError(`error reading the profile from stdin: ${(e as Error).message}`, { cause: e });
  }
}

/** The partial profile an invocation names: stdin YAML, or the base profile name with the flags applied. */
export function readInvocation(profileArg: string, flags: ImagerFlags): Profile {
  // Upstream ignores every other flag with a stdin profile; only the version fills a gap.
  if (profileArg === "-") return parseProfileYaml(readStdin());
  return profileFromFlags(profileArg, flags, readTextFile);
}

/** Resolves the profile an imager invocation asks for (reads stdin or flag-named files only). */
export function resolveInvocation(profileArg: string, flags: ImagerFlags, keysDir?: string): Profile {
  return resolvePartial(readInvocation(profileArg, flags), profileArg === "-", flags, keysDir);
}

/** Resolves a partial profile from {@link readInvocation}; `extraProfiles` are an overlay's profiles. */
export function resolvePartial(
  partial: Profile,
  fromStdin: boolean,
  flags: ImagerFlags,
  keysDir?: string,
  extraProfiles?: Readonly<Record<string, Profile>>,
): Profile {
  const defaultVersion =
    flags.talosVersion === undefined ? undefined : normalizeTalosVersion(flags.talosVersion);
  // Upstream adds the pre-built PK/KEK/db.auth paths only when they exist in the keys directory.
  const fileExists =
    keysDir === undefined
      ? undefined
      : (path: string) => {
          try {
            return existsSync(keyPath(path, keysDir));
          } catch {
            return false;
          }
        };
  const opts = {
    defaultVersion,
    ...(fileExists ? { fileExists } : {}),
    ...(extraProfiles ? { extraProfiles } : {}),
  };
  if (!fromStdin && defaultVersion === undefined) {
    throw invalidInput(
      "--talos-version is required: Bootforge is not tied to one Talos release (e.g. v1.11.0)",
    );
  }
  return resolveProfile(partial, opts);
}

/** Runs the imager CLI with `argv` (without node and script); sets process.exitCode on failure. */
export async function main(argv: string[]): Promise<void> {
  const defaults = { ...defaultImagerFlags(goArch(process.arch)), output: DEFAULT_OUTPUT_DIR };
  const cmd = program(defaults);
  cmd.exitOverride();
  cmd.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
  });
  try {
    cmd.parse(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; bad usage is invalid input (upstream cobra errors exit 1, but
      // a usage error is the user's input).
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    throw e;
  }
  const opts = cmd.opts();
  const flags = toFlags(opts, defaults);
  const options: BootforgeOptions = {
    releaseSource: String(opts.releaseSource),
    keysDir: String(opts.securebootKeysDir),
    cacheDir: String(opts.cacheDir),
  };
  const profileArg = cmd.args[0] ?? "";
  let profile: Profile;
  try {
    const partial = readInvocation(profileArg, flags);
    // --dry-run stays offline: it does not pull the overlay to consult its profiles.
    const extraProfiles = flags.dryRun ? undefined : await overlayProfilesFor(partial, flags, options);
    profile = resolvePartial(partial, profileArg === "-", flags, options.keysDir, extraProfiles);
    if (flags.dryRun) {
      process.stdout.write(dumpProfile(profile));
      return;
    }
  } catch (e) {
    process.stderr.write(`${isBootforgeError(e) ? e.message : String(e)}\n`);
    process.exitCode = exitCodeOf(e);
    return;
  }
  try {
    await build({ profile, flags, options });
  } catch (e) {
    if (e instanceof Interrupted) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    // The reporter already printed the cause as the last console line (upstream prints it twice).
    if (!isBootforgeError(e)) process.stderr.write(`${String(e)}\n`);
    process.exitCode = exitCodeOf(e);
  }
}

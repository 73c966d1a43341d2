/** The `imager` command line: upstream-compatible flags over the profile resolver and (later) the build. */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import { BootforgeError, exitCodeOf, invalidInput, ioError, isBootforgeError } from "../errors/index.js";
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

/** What one imager run resolved to: the build plugs in here. */
export interface ImagerRun {
  /** The fully resolved profile (what upstream prints after `profile ready:`). */
  profile: Profile;
  flags: ImagerFlags;
}

/** Where `--dry-run` stops; the real pipeline (a later issue) replaces this. */
function build(_run: ImagerRun): Promise<void> {
  return Promise.reject(
    new BootforgeError(
      "unsupported",
      "building assets is not implemented yet in this version; use --dry-run",
    ),
  );
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

/** Resolves the profile an imager invocation asks for (reads stdin or flag-named files only). */
export function resolveInvocation(profileArg: string, flags: ImagerFlags): Profile {
  const defaultVersion =
    flags.talosVersion === undefined ? undefined : normalizeTalosVersion(flags.talosVersion);
  if (profileArg === "-") {
    // Upstream ignores every other flag with a stdin profile; only the version fills a gap.
    return resolveProfile(parseProfileYaml(readStdin()), { defaultVersion });
  }
  if (defaultVersion === undefined) {
    throw invalidInput(
      "--talos-version is required: Bootforge is not tied to one Talos release (e.g. v1.11.0)",
    );
  }
  return resolveProfile(profileFromFlags(profileArg, flags, readTextFile), { defaultVersion });
}

/** Runs the imager CLI with `argv` (without node and script); sets process.exitCode on failure. */
export async function main(argv: string[]): Promise<void> {
  const defaults = defaultImagerFlags(goArch(process.arch));
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
  const flags = toFlags(cmd.opts(), defaults);
  const profileArg = cmd.args[0] ?? "";
  try {
    const profile = resolveInvocation(profileArg, flags);
    if (flags.dryRun) {
      process.stdout.write(dumpProfile(profile));
      return;
    }
    await build({ profile, flags });
  } catch (e) {
    process.stderr.write(`${isBootforgeError(e) ? e.message : String(e)}\n`);
    process.exitCode = exitCodeOf(e);
  }
}

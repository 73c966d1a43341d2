/**
 * The imager's `handleProf` as one function: base profile lookup and merge, name and version
 * defaults, input and output defaults, validation. The imager CLI and the factory both call it.
 */
import { BootforgeError, invalidInput } from "../errors/index.js";
import { builtinProfile } from "./builtin.js";
import { fillInputDefaults, fillOutputDefaults, type FileExists } from "./defaults.js";
import { mergeProfiles } from "./merge.js";
import { cloneProfile, type Profile } from "./model.js";
import { preflightProfile, validateProfile } from "./validate.js";

/** Upstream's `version.Name`, the default profile name. */
export const DEFAULT_NAME = "Talos";

/** Inputs of {@link resolveProfile} besides the profile itself. */
export interface ResolveOptions {
  /** Profiles that win over the built-ins by name (an overlay's `profiles/<name>.yaml`). */
  extraProfiles?: Readonly<Record<string, Profile>>;
  /** The version used when the profile names none (upstream uses the imager's own tag). */
  defaultVersion?: string;
  /** The name used when the profile names none; `Talos` by default. */
  defaultName?: string;
  /** Existence check for the optional `/secureboot/*.auth` files; never true by default (no I/O). */
  fileExists?: FileExists;
  /** Also run the checks upstream makes later while building (platform, formats); default true. */
  preflight?: boolean;
}

/** Resolves a (partial) profile into the fully defaulted, validated profile a build runs from. */
export function resolveProfile(profile: Profile, options: ResolveOptions = {}): Profile {
  let p = cloneProfile(profile);
  if (p.baseProfileName) {
    const name = p.baseProfileName;
    const extra = options.extraProfiles;
    const base = extra && Object.hasOwn(extra, name) ? cloneProfile(extra[name]!) : builtinProfile(name);
    if (base === undefined) throw invalidInput(`unknown base profile: ${name}`, { path: "baseProfileName" });
    p = mergeProfiles(base, p);
    delete p.baseProfileName;
  }
  if (!p.name) p.name = options.defaultName ?? DEFAULT_NAME;
  if (!p.version) {
    if (!options.defaultVersion) {
      throw invalidInput("the Talos version is not known: set it in the profile or pass --talos-version", {
        path: "version",
      });
    }
    p.version = options.defaultVersion;
  }
  const arch = p.arch ?? "";
  const sb = p.secureboot === true;
  p.input = fillInputDefaults(p.input, arch, p.version, sb, options.fileExists);
  p.output = fillOutputDefaults(p.output, arch, p.version, sb);
  try {
    validateProfile(p);
  } catch (e) {
    // Upstream wraps every validation failure as invalid input (exit code 2), whatever its tag.
    if (e instanceof BootforgeError) {
      throw invalidInput(`profile is invalid: ${e.message}`, { path: e.path, cause: e });
    }
    throw e;
  }
  if (options.preflight ?? true) preflightProfile(p);
  return p;
}

/**
 * The imager CLI's flags turned into the partial profile that is merged onto the base profile
 * (upstream `cmd/installer/cmd/imager/root.go`). Pure: files named by flags are read through the
 * callback the caller passes.
 */
import { parseDocument } from "yaml";
import { invalidInput, isBootforgeError } from "../errors/index.js";
import {
  parseMetaValue,
  parseOutputKind,
  parseSDBootEnrollKeys,
  type OverlayOptionValue,
  type Profile,
} from "./model.js";
import { parseTalosVersion } from "./version.js";

/** Every imager flag, upstream names in camelCase; Bootforge additions are marked. */
export interface ImagerFlags {
  platform: string;
  arch: string;
  baseInstallerImage: string;
  imageCache: string;
  insecure: boolean;
  extraKernelArg: string[];
  meta: string[];
  systemExtensionImage: string[];
  output: string;
  outputKind: string;
  tarToStdout: boolean;
  overlayName: string;
  overlayImage: string;
  overlayOption: string[];
  embeddedConfigPath: string;
  securebootIncludeWellKnownCerts: boolean;
  securebootSignerAddress: string;
  pcrSignerAddress: string;
  securebootEnrollKeys: string;
  /** Bootforge: overrides the base profile's SecureBoot switch (undefined keeps it). */
  secureboot?: boolean;
  /** Bootforge: the Talos version to build (upstream uses the imager image's own version). */
  talosVersion?: string;
  /** Bootforge: stop after resolving the profile and print it. */
  dryRun: boolean;
}

/** Reads a file named by a flag (`--embedded-config-path`, `--overlay-option @file`). */
export type ReadTextFile = (path: string) => string;

/** Flag values before any were given (upstream defaults; `arch` is the host's). */
export function defaultImagerFlags(hostArch: string): ImagerFlags {
  return {
    platform: "",
    arch: hostArch,
    baseInstallerImage: "",
    imageCache: "",
    insecure: false,
    extraKernelArg: [],
    meta: [],
    systemExtensionImage: [],
    output: "/out",
    outputKind: "",
    tarToStdout: false,
    overlayName: "",
    overlayImage: "",
    overlayOption: [],
    embeddedConfigPath: "",
    securebootIncludeWellKnownCerts: false,
    securebootSignerAddress: "",
    pcrSignerAddress: "",
    securebootEnrollKeys: "",
    dryRun: false,
  };
}

/** Node's `process.arch` as a Go GOARCH name (x64 → amd64). */
export function goArch(nodeArch: string): string {
  return ({ x64: "amd64", ia32: "386", arm: "arm" } as Record<string, string>)[nodeArch] ?? nodeArch;
}

/** `--talos-version` as the imager's own tag would be: a version with a `v` (`1.11.0` → `v1.11.0`). */
export function normalizeTalosVersion(text: string): string {
  const t = text.trim();
  if (parseTalosVersion(t) === undefined) {
    throw invalidInput(`invalid --talos-version ${JSON.stringify(text)}: expected a version like v1.11.0`);
  }
  return t.startsWith("v") ? t : `v${t}`;
}

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const REGISTRY = new RegExp(`^${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?$`);
const REPO_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * True when `s` is a fully specified image reference (go-containerregistry `ParseReference` with
 * `StrictValidation`: explicit registry and tag or digest); otherwise `--image-cache` is a path.
 */
export function isStrictImageReference(s: string): boolean {
  let rest = s;
  let ok = false;
  const at = rest.indexOf("@");
  if (at >= 0) {
    if (!DIGEST.test(rest.slice(at + 1))) return false;
    rest = rest.slice(0, at);
    ok = true;
  }
  const slash = rest.indexOf("/");
  if (slash < 0) return false;
  const registry = rest.slice(0, slash);
  // Without a dot, a port or `localhost` the first part is a repository under Docker Hub: defaulted.
  if (!(registry.includes(".") || registry.includes(":") || registry === "localhost")) return false;
  if (!REGISTRY.test(registry)) return false;
  let repo = rest.slice(slash + 1);
  if (!ok) {
    const colon = repo.lastIndexOf(":");
    if (colon < 0 || !TAG.test(repo.slice(colon + 1))) return false;
    repo = repo.slice(0, colon);
  }
  return repo !== "" && repo.length <= 255 && repo.split("/").every((c) => REPO_COMPONENT.test(c));
}

function parseOverlayOptionsFile(text: string, path: string): Record<string, OverlayOptionValue> {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw invalidInput(`${path}: ${doc.errors[0]!.message.split("\n")[0]}`);
  const v = doc.toJS() as unknown;
  if (v === null || v === undefined) return {};
  if (typeof v !== "object" || Array.isArray(v))
    throw invalidInput(`${path}: overlay options must be a mapping`);
  return v as Record<string, OverlayOptionValue>;
}

/** The partial profile upstream's CLI builds from a base profile name and the flags. */
export function profileFromFlags(
  baseProfileName: string,
  flags: ImagerFlags,
  readFile: ReadTextFile,
): Profile {
  const meta = flags.meta.map((m) => {
    try {
      return parseMetaValue(m);
    } catch (e) {
      throw isBootforgeError(e) ? invalidInput(`invalid argument "${m}" for "--meta" flag: ${e.message}`) : e;
    }
  });
  const prof: Profile = {
    baseProfileName,
    arch: flags.arch,
    platform: flags.platform,
    customization: { extraKernelArgs: [...flags.extraKernelArg], metaContents: meta },
    input: {},
    output: {},
  };
  if (flags.secureboot !== undefined) prof.secureboot = flags.secureboot;
  if (flags.talosVersion !== undefined) prof.version = normalizeTalosVersion(flags.talosVersion);
  const input = prof.input!;
  const output = prof.output!;

  const extra: Record<string, OverlayOptionValue> = {};
  for (const option of flags.overlayOption) {
    if (option.startsWith("@")) {
      Object.assign(extra, parseOverlayOptionsFile(readFile(option.slice(1)), option.slice(1)));
      continue;
    }
    const eq = option.indexOf("=");
    const k = eq < 0 ? option : option.slice(0, eq);
    let v = eq < 0 ? "" : option.slice(eq + 1);
    if (v.startsWith("@")) v = readFile(v.slice(1));
    extra[k] = v;
  }
  if (flags.overlayName !== "" || flags.overlayImage !== "") {
    prof.overlay = { name: flags.overlayName, image: { imageRef: flags.overlayImage }, options: extra };
    input.overlayInstaller = { imageRef: flags.overlayImage };
  }

  input.systemExtensions = flags.systemExtensionImage.map((imageRef) => ({
    imageRef,
    ...(flags.insecure ? { forceInsecure: true } : {}),
  }));
  if (flags.outputKind !== "") output.kind = parseOutputKind(flags.outputKind);
  if (flags.baseInstallerImage !== "") {
    input.baseInstaller = {
      imageRef: flags.baseInstallerImage,
      ...(flags.insecure ? { forceInsecure: true } : {}),
    };
  }
  if (flags.imageCache !== "") {
    input.imageCache = isStrictImageReference(flags.imageCache)
      ? { imageRef: flags.imageCache, ...(flags.insecure ? { forceInsecure: true } : {}) }
      : { ociPath: flags.imageCache };
  }
  if (flags.securebootIncludeWellKnownCerts) (input.secureboot ??= {}).includeWellKnownCerts = true;
  if (flags.securebootSignerAddress !== "") {
    (input.secureboot ??= {}).secureBootSigner = { signerAddress: flags.securebootSignerAddress };
  }
  if (flags.pcrSignerAddress !== "")
    (input.secureboot ??= {}).pcrSigner = { signerAddress: flags.pcrSignerAddress };
  if (flags.securebootEnrollKeys !== "") {
    let keys;
    try {
      keys = parseSDBootEnrollKeys(flags.securebootEnrollKeys);
    } catch (e) {
      throw isBootforgeError(e) ? invalidInput(`invalid --secureboot-enroll-keys value: ${e.message}`) : e;
    }
    // Upstream sets both, so the flag applies whatever the base profile's output kind is.
    output.imageOptions = { sdBootEnrollKeys: keys };
    output.isoOptions = { sdBootEnrollKeys: keys };
  }
  if (flags.embeddedConfigPath !== "") {
    prof.customization!.embeddedMachineConfiguration = readFile(flags.embeddedConfigPath);
  }
  return prof;
}

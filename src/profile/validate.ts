/**
 * Profile validation (upstream `Profile.Validate`), with the same messages and the same split
 * between invalid input and unsupported-for-this-version.
 */
import { invalidInput, unsupported } from "../errors/index.js";
import { goQuote, isArch, OUTPUT_KINDS, type Profile } from "./model.js";
import { isKnownPlatform, KNOWN_PLATFORMS } from "./platforms.js";
import { Quirks } from "./quirks.js";

/** Throws the first problem upstream's `Validate` would report; returns when the profile is valid. */
export function validateProfile(p: Profile): void {
  if (!isArch(p.arch)) throw invalidInput(`invalid arch ${goQuote(p.arch ?? "")}`, { path: "arch" });
  if (!p.platform) throw invalidInput("platform is required", { path: "platform" });
  const version = p.version ?? "";
  const q = new Quirks(version);
  const secureboot = p.secureboot === true;
  if (secureboot && !q.supportsUKI) {
    throw unsupported(`secureboot is not supported for Talos version ${goQuote(version)}`, {
      path: "secureboot",
    });
  }
  const kind = p.output?.kind ?? "unknown";
  const custom = p.customization ?? {};
  const hasMeta = (custom.metaContents?.length ?? 0) > 0;
  switch (kind) {
    case "unknown":
      throw invalidInput("unknown output kind", { path: "output.kind" });
    case "iso":
      if (
        q.supportsISOBootloaderChoice &&
        p.output?.isoOptions &&
        (p.output.isoOptions.bootloader ?? "none") === "none"
      ) {
        throw invalidInput("bootloader cannot be 'none' for ISO output", {
          path: "output.isoOptions.bootloader",
        });
      }
      break;
    case "image": {
      const io = p.output?.imageOptions;
      if (io === undefined)
        throw invalidInput("image options are required for image output", { path: "output" });
      if (!io.diskSize)
        throw invalidInput("disk size is required for image output", { path: "output.imageOptions" });
      if ((io.bootloader ?? "none") === "none") {
        throw invalidInput("bootloader cannot be 'none' for disk image output", {
          path: "output.imageOptions.bootloader",
        });
      }
      break;
    }
    case "installer":
      if (hasMeta) {
        throw unsupported(`customization of meta partition is not supported for ${kind} output`, {
          path: "customization.metaContents",
        });
      }
      break;
    case "kernel":
    case "initramfs":
      if (secureboot)
        throw unsupported(`secureboot is not supported for ${kind} output`, { path: "secureboot" });
      if ((custom.extraKernelArgs?.length ?? 0) > 0) {
        throw unsupported(`customization of kernel args is not supported for ${kind} output`, {
          path: "customization.extraKernelArgs",
        });
      }
      if (hasMeta) {
        throw unsupported(`customization of meta partition is not supported for ${kind} output`, {
          path: "customization.metaContents",
        });
      }
      break;
    case "cmdline":
    case "uki":
      break;
    default:
      // A kind outside the enum can only come from a hand-built object; name it and the choices.
      throw invalidInput(
        `unknown output kind ${goQuote(String(kind))} (one of ${OUTPUT_KINDS.slice(1).join(", ")})`,
        {
          path: "output.kind",
        },
      );
  }
}

/**
 * Throws when Talos does not know the platform. Upstream only finds out when it builds the kernel
 * command line (same message, invalid input); checking with the profile reports it before any work.
 */
export function checkPlatform(platform: string): void {
  if (!isKnownPlatform(platform)) {
    throw invalidInput(`unknown platform: ${goQuote(platform)} (known: ${KNOWN_PLATFORMS.join(", ")})`, {
      path: "platform",
    });
  }
}

/**
 * The checks upstream makes only while building (unknown platform, output format, disk format,
 * UKI on Talos < 1.5), with upstream's messages and kinds, so a dry run or a factory request
 * fails before any work is done.
 */
export function preflightProfile(p: Profile): void {
  checkPlatform(p.platform ?? "");
  const out = p.output ?? {};
  if (out.kind === "uki" && !new Quirks(p.version ?? "").supportsUKI) {
    throw unsupported("UKI output is not supported in this Talos version", { path: "output.kind" });
  }
  if (out.kind === "image" && (out.imageOptions?.diskFormat ?? "unknown") === "unknown") {
    throw unsupported("unsupported disk format: unknown", { path: "output.imageOptions.diskFormat" });
  }
  if ((out.outFormat ?? "unknown") === "unknown") {
    throw invalidInput("unknown output format: unknown", { path: "output.outFormat" });
  }
}

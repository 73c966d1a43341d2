/**
 * Platform names and the kernel arguments each Talos platform adds (upstream
 * `platform.NewPlatform` and every platform's `KernelArgs(arch, quirks)`).
 */
import { invalidInput } from "../errors/index.js";
import { KNOWN_PLATFORMS } from "../profile/platforms.js";
import type { Quirks } from "../profile/quirks.js";

/**
 * Every platform name the imager accepts (`packet` is an alias of `equinixMetal`): the profile
 * catalogue's list, so validation and kernel arguments cannot disagree.
 */
export const PLATFORM_NAMES = KNOWN_PLATFORMS;

/** A platform name as given by the user (including the `packet` alias). */
export type PlatformName = (typeof PLATFORM_NAMES)[number];

/** True when `name` is a platform the imager knows (case-sensitive, as upstream). */
export function isPlatformName(name: string): name is PlatformName {
  return (PLATFORM_NAMES as readonly string[]).includes(name);
}

/** The platform's canonical name as written to `talos.platform=`; unknown names are invalid input. */
export function canonicalPlatformName(name: string): string {
  if (!isPlatformName(name)) throw invalidInput(`unknown platform: ${JSON.stringify(name)}`);
  // "packet" is kept upstream for backwards compatibility; its Name() is equinixMetal.
  return name === "packet" ? "equinixMetal" : name;
}

const TTY1_TTYS0_IFNAMES = ["console=tty1", "console=ttyS0", "net.ifnames=0"];
const TTYS0_TTY0_TTY1_IFNAMES = ["console=ttyS0", "console=tty0", "console=tty1", "net.ifnames=0"];

/**
 * The platform's kernel arguments for `arch` (`amd64`/`arm64`), one `k=v` per value in upstream
 * order; arch-specific platforms give none for other arches, as upstream does.
 */
export function platformKernelArgs(platform: string, arch: string, quirks: Quirks): string[] {
  switch (canonicalPlatformName(platform)) {
    case "akamai":
    case "digital-ocean":
      return [...TTYS0_TTY0_TTY1_IFNAMES];
    case "alibabacloud":
    case "cloudstack":
    case "exoscale":
    case "hcloud":
    case "nocloud":
    case "opennebula":
    case "openstack":
      return [...TTY1_TTYS0_IFNAMES];
    case "aws":
      return quirks.awsNvmeTimeoutAsPlatformArg
        ? [...TTY1_TTYS0_IFNAMES, "nvme_core.io_timeout=4294967295"]
        : [...TTY1_TTYS0_IFNAMES];
    case "azure":
      return [
        "console=ttyS0,115200n8",
        "earlyprintk=ttyS0,115200",
        "rootdelay=300",
        "net.ifnames=0",
        "talos.dashboard.disabled=1",
        "sysctl.kernel.kexec_load_disabled=1",
      ];
    case "gcp":
      return [
        "console=ttyS0",
        "net.ifnames=0",
        "talos.dashboard.disabled=1",
        "sysctl.kernel.kexec_load_disabled=1",
      ];
    case "oracle":
    case "scaleway":
      return [...TTY1_TTYS0_IFNAMES, "talos.dashboard.disabled=1"];
    case "upcloud":
    case "vultr":
      return ["net.ifnames=0"];
    case "metal":
      if (arch === "amd64") {
        return quirks.supportsMetalPlatformConsoleTTYS0
          ? ["console=ttyS0", "console=tty0"]
          : ["console=tty0"];
      }
      return arch === "arm64" ? ["console=ttyAMA0", "console=tty0"] : [];
    case "vmware":
      if (arch === "amd64") {
        return [
          "talos.config=guestinfo",
          "console=tty0",
          "console=ttyS0",
          "earlyprintk=ttyS0,115200",
          "net.ifnames=0",
        ];
      }
      return arch === "arm64"
        ? ["talos.config=guestinfo", "console=tty0", "console=ttyAMA0", "net.ifnames=0"]
        : [];
    case "equinixMetal":
      if (arch === "amd64") return ["console=ttyS1,115200n8"];
      return arch === "arm64" ? ["console=ttyAMA0,115200"] : [];
    default:
      // container
      return [];
  }
}

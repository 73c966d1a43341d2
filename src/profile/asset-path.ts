/**
 * The factory's asset name grammar (upstream image-factory `profile.ParseFromPath`): the last
 * segment of `/image/<schematic>/<version>/<path>` and the PXE `<platform>-<arch>[-secureboot]`
 * form, turned into the partial profile the build starts from.
 */
import { invalidInput } from "../errors/index.js";
import { builtinProfile } from "./builtin.js";
import { DEFAULT_RAW_DISK_SIZE, goQuote, type DiskFormat, type OutFormat, type Profile } from "./model.js";

/** Prefix the factory puts before a path error in its 400 response body. */
export const ASSET_PATH_ERROR_PREFIX = "error parsing profile from path: ";

/** Parses an architecture, accepting the iPXE names `x86_64` and `i386` as amd64. */
export function parseAssetArch(s: string): "amd64" | "arm64" {
  if (s === "amd64" || s === "arm64") return s;
  if (s === "x86_64" || s === "i386") return "amd64";
  throw invalidInput(`invalid architecture: ${goQuote(s)}`);
}

/** Parses `<platform>-<arch>[-secureboot]`; the platform itself is not checked (the imager does). */
export function parsePlatformArch(s: string): {
  platform: string;
  arch: "amd64" | "arm64";
  secureboot: boolean;
} {
  const secureboot = s.endsWith("-secureboot");
  const rest = secureboot ? s.slice(0, -"-secureboot".length) : s;
  const dash = rest.indexOf("-");
  if (dash < 0) throw invalidInput(`invalid platform-arch: ${goQuote(rest)}`);
  let platform = rest.slice(0, dash);
  let arch = rest.slice(dash + 1);
  // The one platform name with a dash in it.
  if (platform === "digital" && arch.startsWith("ocean-")) {
    platform = "digital-ocean";
    arch = arch.slice("ocean-".length);
  }
  return { platform, arch: parseAssetArch(arch), secureboot };
}

function withPlatformArch(s: string, p: Profile): Profile {
  const pa = parsePlatformArch(s);
  p.platform = pa.platform;
  p.arch = pa.arch;
  if (pa.secureboot) p.secureboot = true;
  return p;
}

const OUT_FORMAT_SUFFIXES: readonly OutFormat[] = [".tar.gz", ".gz", ".xz", ".zst"];
const DISK_FORMAT_SUFFIXES: readonly DiskFormat[] = ["raw", "qcow2", "vhd", "ova"];

/**
 * Parses an asset name into its partial profile (kind, platform, arch, secureboot, disk format and
 * options, compression), in upstream's rule order; bad names throw invalid input (HTTP 400) with
 * upstream's message.
 */
export function parseAssetPath(path: string): Profile {
  const raw = (kind: "kernel" | "cmdline" | "initramfs" | "iso" | "uki" | "installer"): Profile => ({
    output: { kind, outFormat: "raw" },
  });

  if (path.startsWith("kernel-")) {
    // The platform does not matter for a kernel; upstream fixes it to metal.
    return { platform: "metal", arch: parseAssetArch(path.slice("kernel-".length)), ...raw("kernel") };
  }
  if (path.startsWith("cmdline-")) return withPlatformArch(path.slice("cmdline-".length), raw("cmdline"));
  if (path.startsWith("initramfs-") && path.endsWith(".xz")) {
    const arch = parseAssetArch(path.slice("initramfs-".length, -".xz".length));
    return { platform: "metal", arch, ...raw("initramfs") };
  }
  if (path.endsWith(".iso")) return withPlatformArch(path.slice(0, -".iso".length), raw("iso"));
  if (path.endsWith("-uki.efi")) return withPlatformArch(path.slice(0, -"-uki.efi".length), raw("uki"));
  if (path.startsWith("installer-") && path.endsWith(".tar")) {
    let rest = path.slice("installer-".length, -".tar".length);
    const p: Profile = { platform: "metal", ...raw("installer") };
    if (rest.endsWith("-secureboot")) {
      rest = rest.slice(0, -"-secureboot".length);
      p.secureboot = true;
    }
    p.arch = parseAssetArch(rest);
    return p;
  }
  const cut = path.indexOf("-installer-");
  if (cut >= 0 && path.endsWith(".tar")) {
    const platform = path.slice(0, cut);
    const rest = path.slice(cut + "-installer-".length, -".tar".length);
    return withPlatformArch(`${platform}-${rest}`, raw("installer"));
  }

  // Anything else is a disk image, parsed from the end: compression, then disk format.
  let rest = path;
  let outFormat: OutFormat = "raw";
  const fmt = OUT_FORMAT_SUFFIXES.find((s) => rest.endsWith(s));
  if (fmt !== undefined) {
    outFormat = fmt;
    rest = rest.slice(0, -fmt.length);
  }
  const disk = DISK_FORMAT_SUFFIXES.find((d) => rest.endsWith(`.${d}`));
  if (disk === undefined) throw invalidInput(`invalid profile path: ${goQuote(rest)}`);
  rest = rest.slice(0, -(disk.length + 1));

  const p = withPlatformArch(rest, {
    output: {
      kind: "image",
      imageOptions: { diskSize: DEFAULT_RAW_DISK_SIZE, diskFormat: disk },
      outFormat,
    },
  });
  const io = p.output!.imageOptions!;
  if (disk === "qcow2") io.diskFormatOptions = "cluster_size=8k";
  // Size and format options come from the built-in profile named like the platform, if any.
  // (Upstream dereferences a nil imageOptions for names like `iso`/`installer` and fails with a
  // 500; those simply keep the defaults here.)
  const def = builtinProfile(p.platform ?? "")?.output?.imageOptions;
  if (def?.diskSize) io.diskSize = def.diskSize;
  // Format options only make sense for the format they were written for: upstream also copies
  // azure's VHD options onto `azure-*.qcow2`, which qemu-img then rejects (a 500 upstream).
  if (def?.diskFormatOptions && def.diskFormat === disk) io.diskFormatOptions = def.diskFormatOptions;
  return p;
}

/** What a PXE script path (`<platform>-<arch>[-secureboot]`) refers to. */
export interface PxeAssets {
  platform: string;
  arch: "amd64" | "arm64";
  secureboot: boolean;
  /** The asset whose text becomes the kernel command line: `cmdline-<path>` (arch not normalised). */
  cmdlineAsset: string;
  /** Assets the script boots, in script order: kernel then initrd, or the SecureBoot UKI alone. */
  bootAssets: { directive: "kernel" | "initrd"; asset: string }[];
}

/** Parses the PXE path form exactly as the factory does (as the `cmdline-` asset name). */
export function parsePxePath(path: string): PxeAssets {
  const cmdlineAsset = `cmdline-${path}`;
  const p = parseAssetPath(cmdlineAsset);
  const arch = p.arch as "amd64" | "arm64";
  const platform = p.platform ?? "";
  const secureboot = p.secureboot === true;
  const bootAssets: PxeAssets["bootAssets"] = secureboot
    ? [{ directive: "kernel", asset: `${platform}-${arch}-secureboot-uki.efi` }]
    : [
        { directive: "kernel", asset: `kernel-${arch}` },
        { directive: "initrd", asset: `initramfs-${arch}.xz` },
      ];
  return { platform, arch, secureboot, cmdlineAsset, bootAssets };
}

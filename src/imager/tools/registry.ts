/**
 * External programs Bootforge runs as file transformers, and where to find them. Each program is
 * looked up once per process; a missing one is reported with the Debian package that provides it.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { dependencyError } from "../../errors/index.js";

/** Programs Bootforge may run, with the Debian package that ships each one. */
export const TOOL_PACKAGES = {
  "mkfs.vfat": "dosfstools",
  "fsck.vfat": "dosfstools",
  mcopy: "mtools",
  mmd: "mtools",
  mdir: "mtools",
  mformat: "mtools",
  mattrib: "mtools",
  "mkfs.xfs": "xfsprogs",
  xfs_db: "xfsprogs",
  xfs_repair: "xfsprogs",
  xfs_io: "xfsprogs",
  "mkfs.ext4": "e2fsprogs",
  e2fsck: "e2fsprogs",
  debugfs: "e2fsprogs",
  "qemu-img": "qemu-utils",
  xz: "xz-utils",
  zstd: "zstd",
  tar: "tar",
  sgdisk: "gdisk",
  sfdisk: "fdisk",
  fdisk: "fdisk",
  mksquashfs: "squashfs-tools",
  unsquashfs: "squashfs-tools",
  xorriso: "xorriso",
  cpio: "cpio",
  depmod: "kmod",
  "grub-mkimage": "grub-common",
  bwrap: "bubblewrap",
  chmod: "coreutils",
  mkfifo: "coreutils",
  // The factory signs asset digests (`.sigstore.json`): Node cannot sign a precomputed digest.
  openssl: "openssl",
  // Only the fixture release builder and its tests run these.
  "apt-get": "apt",
  "apt-cache": "apt",
  "dpkg-deb": "dpkg",
  skopeo: "skopeo",
} as const;

/** A program name Bootforge knows how to find. */
export type ToolName = keyof typeof TOOL_PACKAGES;

// sbin directories are searched too: mkfs.* live there and a non-root PATH often lacks them.
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

const found = new Map<ToolName, string | null>();

function search(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}

/** Absolute path of `name`, or undefined when it is not installed (looked up once per process). */
export function lookupTool(name: ToolName): string | undefined {
  let path = found.get(name);
  if (path === undefined) {
    path = search(name);
    found.set(name, path);
  }
  return path ?? undefined;
}

/** Absolute path of `name`; a `dependency` error naming its Debian package when it is missing. */
export function requireTool(name: ToolName): string {
  const path = lookupTool(name);
  if (path === undefined) {
    throw dependencyError(
      `required program "${name}" was not found in PATH; install the Debian package "${TOOL_PACKAGES[name]}" (apt-get install ${TOOL_PACKAGES[name]})`,
    );
  }
  return path;
}

/** Forgets cached lookups (tests that change PATH). */
export function resetToolCache(): void {
  found.clear();
}

/**
 * Test inputs shared by the PE and SecureBoot suites: Debian 12's systemd-boot-efi
 * binaries and a synthetic bzImage (small, so tests stay fast and hermetic).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

/** systemd-stub from Debian's systemd-boot-efi (installed by scripts/setup.sh). */
export const DEBIAN_STUB = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
/** systemd-boot from Debian's systemd-boot-efi. */
export const DEBIAN_SDBOOT = "/usr/lib/systemd/boot/efi/systemd-bootx64.efi";

/** Throws a clear message when a tool the test relies on is missing (setup.sh installs them). */
export function requireTool(path: string, pkg: string): void {
  const found = path.startsWith("/") ? existsSync(path) : spawnOk("sh", ["-c", `command -v ${path}`]);
  if (!found) throw new Error(`${path} not found: install Debian package ${pkg} (bash scripts/setup.sh)`);
}

function spawnOk(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** A fake x86 bzImage: a setup header with `HdrS` and a kernel version string, then filler. */
export function fakeBzImage(version: string, size = 256 * 1024): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0x1000; i < size; i++) buf[i] = (i * 131) & 0xff;
  buf.write("MZ", 0, "latin1");
  buf[0x1f1] = 4; // setup_sects
  buf.write("HdrS", 0x202, "latin1");
  const versionOffset = 0x300; // relative to 0x200, within setup_sects * 512
  buf.writeUInt16LE(versionOffset, 0x20e);
  buf.fill(0, 0x200 + versionOffset, 0x200 + versionOffset + 256);
  buf.write(`${version} (builder@bootforge) #1 SMP`, 0x200 + versionOffset, "latin1");
  return buf;
}

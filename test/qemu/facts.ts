/**
 * Parses the fixture OS's serial output: every `BOOTFORGE-FIXTURE <fact>` line (format in
 * fixtures/README.md) into a structured record tests can assert on.
 */

/** Prefix of every fact line the fixture init prints. */
export const FACT_PREFIX = "BOOTFORGE-FIXTURE ";

/** What a fixture boot reported. */
export interface BootFacts {
  /** Every fact line without its prefix, in order. */
  lines: string[];
  cmdline?: string;
  /** `uname -r` and `uname -m`. */
  kernel?: string;
  arch?: string;
  /** VERSION_ID of the booted rootfs, e.g. `v1.11.0`. */
  version?: string;
  boot?: "bios" | "uefi";
  secureboot?: "enabled" | "disabled";
  /** The `SetupMode` EFI variable (1 while no PK is enrolled). */
  setupMode?: number;
  /** Every signature enrolled in KEK and db: variable, type (`x509` or the GUID's hex), SHA-256 of the data. */
  efiSignatures: { variable: string; type: string; sha256: string }[];
  /** Mounted extension layers as `name@version`, in layer order. */
  extensions: string[];
  /** Modules loaded from kernel-module extensions. */
  modules: string[];
  /** Modules from extensions that failed to load. */
  failedModules: string[];
  /** META values by key (`0x0a`), with `\n` and `\xNN` escapes as printed. */
  meta: Record<string, string>;
  /** GPT partition labels seen, in device order. */
  diskLabels: string[];
  /** Firmware files found in the initramfs. */
  firmware: string[];
  /** Early microcode blobs found (`GenuineIntel.bin`). */
  microcode: string[];
  /** Other `key=value` facts (e.g. `hello` from an extension probe). */
  other: Record<string, string>;
  errors: string[];
  /** The init reached its last line. */
  ok: boolean;
}

/** Extracts the facts from a serial log (other console output is ignored). */
export function parseFacts(log: string): BootFacts {
  const f: BootFacts = {
    lines: [], efiSignatures: [], extensions: [], modules: [], failedModules: [], meta: {}, diskLabels: [], firmware: [],
    microcode: [], other: {}, errors: [], ok: false,
  }; // prettier-ignore
  for (const raw of log.split(/\r?\n/)) {
    const at = raw.indexOf(FACT_PREFIX);
    if (at < 0) continue;
    const line = raw.slice(at + FACT_PREFIX.length).trimEnd();
    f.lines.push(line);
    let m: RegExpExecArray | null;
    if (line === "ok") f.ok = true;
    else if (line.startsWith("cmdline=")) f.cmdline = line.slice(8);
    else if ((m = /^kernel=(\S+) arch=(\S+)$/.exec(line))) [f.kernel, f.arch] = [m[1], m[2]];
    else if ((m = /^meta (0x[0-9a-f]+)=(.*)$/.exec(line)) && m[1] !== undefined) f.meta[m[1]] = m[2] ?? "";
    else if ((m = /^module=(\S+) (loaded|failed)$/.exec(line)) && m[1] !== undefined) {
      (m[2] === "loaded" ? f.modules : f.failedModules).push(m[1]);
    } else if ((m = /^disk-label=(\S+)/.exec(line)) && m[1] !== undefined) f.diskLabels.push(m[1]);
    else if ((m = /^microcode=(\S+)/.exec(line)) && m[1] !== undefined) f.microcode.push(m[1]);
    else if ((m = /^efi-signature=(KEK|db) (\S+) ([0-9a-f]{64})$/.exec(line)) && m[3] !== undefined)
      f.efiSignatures.push({ variable: m[1] ?? "", type: m[2] ?? "", sha256: m[3] });
    else if ((m = /^setupmode=([01])$/.exec(line))) f.setupMode = Number(m[1]);
    else if ((m = /^([a-z-]+)=(.*)$/.exec(line)) && m[1] !== undefined) {
      const [key, value = ""] = [m[1], m[2]];
      if (key === "extension") f.extensions.push(value);
      else if (key === "firmware") f.firmware.push(value);
      else if (key === "error") f.errors.push(value);
      else if (key === "version") f.version = value;
      else if (key === "boot" && (value === "bios" || value === "uefi")) f.boot = value;
      else if (key === "secureboot" && (value === "enabled" || value === "disabled")) f.secureboot = value;
      else f.other[key] = value;
    }
  }
  return f;
}

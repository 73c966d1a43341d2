/** ISO volume naming and the xorriso commands upstream appends for reproducibility and labels (§6.5). */
import type { Quirks } from "../../profile/quirks.js";

/** Upstream `iso.VolumeID`: upper case, `-` `_` `.` → `_`, other characters dropped, at most 32. */
export function isoVolumeId(label: string): string {
  let out = "";
  for (const ch of label.toUpperCase()) {
    if (/[A-Z0-9]/.test(ch)) out += ch;
    else if (ch === "-" || ch === "_" || ch === ".") out += "_";
  }
  return out.slice(0, 32);
}

/** `YYYYMMDDhhmmss00` in UTC (upstream formats in the local zone, which is UTC in its container). */
export function isoUuidTime(epoch: number): string {
  const d = new Date(epoch * 1000);
  const p = (n: number, w = 2): string => String(n).padStart(w, "0");
  return `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00`;
}

/** Native xorriso commands that go after `--`: fixed dates (and UUID) from the epoch, then the volume label on ≥ 1.8. */
export function xorrisoTailCommands(epoch: number, version: string, quirks: Quirks): string[] {
  const out = ["-volume_date", "all_file_dates", `=${epoch}`, "-volume_date", "uuid", isoUuidTime(epoch)];
  if (quirks.supportsISOLabel)
    out.push("-volid", isoVolumeId(`Talos-${version}`), "-volset-id", `Talos-${version}`);
  return out;
}

/** `GRUB_FAT_SERIAL_NUMBER`'s value upstream sets: the epoch as lower-case hex (uint32). */
export function fatSerial(epoch: number): string {
  return (epoch >>> 0).toString(16);
}

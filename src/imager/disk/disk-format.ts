/**
 * Disk format conversion after the raw image is built (imager.md §5.6): qcow2 and vhd through
 * `qemu-img convert`, file to file. qemu-img stamps VHD footers with the current time and a random
 * UUID; Bootforge rewrites both (SOURCE_DATE_EPOCH, a label-derived UUID) so VHDs are reproducible
 * (the footer codec is `formats/vhd-footer.ts`).
 */
import { open } from "node:fs/promises";
import { invalidInput, ioError } from "../../errors/index.js";
import { run } from "../tools/run.js";
import { guidFromLabel } from "../../formats/guid.js";
import { stampVhdFooter, VHD_EPOCH, VHD_FOOTER_SIZE as FOOTER } from "../../formats/vhd-footer.js";

/** Disk formats produced through qemu-img. */
export type QemuDiskFormat = "qcow2" | "vhd";

/** Default `-o` options per format, as upstream's profiles set them (`diskFormatOptions`). */
export const DEFAULT_DISK_FORMAT_OPTIONS: Record<QemuDiskFormat, string> = {
  qcow2: "",
  vhd: "subformat=fixed,force_size",
};

/** Options of `convertDiskImage`. */
export interface ConvertOptions {
  /** `-o` value (upstream `imageOptions.diskFormatOptions`); the format's default when omitted. */
  formatOptions?: string;
  /** SOURCE_DATE_EPOCH for the VHD footer timestamp; 2000-01-01 when omitted. */
  epoch?: number;
  signal?: AbortSignal;
}

/** Converts the raw image `input` into `output` in `format` (input is kept). */
export async function convertDiskImage(
  input: string,
  output: string,
  format: QemuDiskFormat,
  options: ConvertOptions = {},
): Promise<void> {
  const qemuFormat = format === "vhd" ? "vpc" : format === "qcow2" ? "qcow2" : undefined;
  if (!qemuFormat) throw invalidInput(`unsupported disk format ${JSON.stringify(format)}`);
  const opts = options.formatOptions ?? DEFAULT_DISK_FORMAT_OPTIONS[format];
  const args = ["convert", "-f", "raw", "-O", qemuFormat, ...(opts ? ["-o", opts] : []), input, output];
  await run("qemu-img", args, options.signal ? { signal: options.signal } : {});
  if (format === "vhd") await fixVhdFooter(output, options.epoch ?? VHD_EPOCH);
}

/** Rewrites timestamp and UUID of a VHD footer (and its copy at offset 0 in dynamic VHDs), fixing the checksum. */
export async function fixVhdFooter(
  path: string,
  epoch: number,
  uuid = guidFromLabel("talos-image-vhd"),
): Promise<void> {
  const f = await open(path, "r+");
  try {
    const { size } = await f.stat();
    const positions = [size - FOOTER, 0];
    let patched = 0;
    for (const pos of positions) {
      const footer = Buffer.alloc(FOOTER);
      await f.read(footer, 0, FOOTER, pos);
      if (!stampVhdFooter(footer, epoch, uuid)) continue;
      await f.write(footer, 0, FOOTER, pos);
      patched++;
      if (size === FOOTER) break;
    }
    if (patched === 0) throw ioError(`${path} has no VHD footer`);
  } finally {
    await f.close();
  }
}

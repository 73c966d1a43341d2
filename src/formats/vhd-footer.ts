/**
 * The VHD footer (512 bytes at the end of a VHD, copied at offset 0 in dynamic ones). qemu-img
 * stamps it with the current time and a random UUID; restamping both makes VHDs reproducible.
 */
import { parseUuid } from "./guid.js";

/** VHD timestamps count seconds from 2000-01-01T00:00:00Z. */
export const VHD_EPOCH = 946684800;
/** Size of a VHD footer in bytes. */
export const VHD_FOOTER_SIZE = 512;
const COOKIE = Buffer.from("conectix", "latin1");

/**
 * Rewrites timestamp (`epoch`, Unix seconds) and UUID of the footer in `footer` in place and fixes
 * its checksum; false, untouched, when the bytes are not a VHD footer.
 */
export function stampVhdFooter(footer: Buffer, epoch: number, uuid: string): boolean {
  if (!footer.subarray(0, 8).equals(COOKIE)) return false;
  footer.writeUInt32BE(Math.max(0, epoch - VHD_EPOCH), 24);
  parseUuid(uuid).copy(footer, 68);
  footer.writeUInt32BE(0, 64);
  let sum = 0;
  for (const b of footer) sum += b;
  footer.writeUInt32BE(~sum >>> 0, 64);
  return true;
}

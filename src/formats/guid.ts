/**
 * GUIDs as the imager derives them and as GPT stores them. Upstream makes disk images reproducible
 * by naming every GUID after a label: `uuid.NewHash(sha256, uuid.Nil, label, 8)`.
 */
import { createHash } from "node:crypto";
import { invalidInput } from "../errors/index.js";

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The deterministic GUID upstream derives from a label (`makefs.GUIDFromLabel`), lowercase text. */
export function guidFromLabel(label: string): string {
  const digest = createHash("sha256").update(Buffer.alloc(16)).update(label, "utf8").digest();
  const b = digest.subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8 (custom)
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  return formatUuid(b);
}

/** Canonical text (`xxxxxxxx-xxxx-…`) of 16 big-endian UUID bytes. */
export function formatUuid(bytes: Uint8Array): string {
  const h = Buffer.from(bytes).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** 16 big-endian bytes of a UUID in canonical text; `invalid-input` when it is not one. */
export function parseUuid(text: string): Buffer {
  if (!UUID_PATTERN.test(text)) throw invalidInput(`not a UUID: ${JSON.stringify(text)}`);
  return Buffer.from(text.replaceAll("-", ""), "hex");
}

/** GPT's on-disk form of a UUID: the first three fields little-endian ("mixed endian"). */
export function uuidToGptBytes(text: string): Buffer {
  const u = parseUuid(text);
  return Buffer.from([u[3]!, u[2]!, u[1]!, u[0]!, u[5]!, u[4]!, u[7]!, u[6]!, ...u.subarray(8)]);
}

/** Canonical lowercase text of a GUID read from GPT's mixed-endian bytes. */
export function gptBytesToUuid(g: Uint8Array): string {
  return formatUuid(
    Uint8Array.from([g[3]!, g[2]!, g[1]!, g[0]!, g[5]!, g[4]!, g[7]!, g[6]!, ...g.subarray(8, 16)]),
  );
}

/**
 * META key/value pairs as text (upstream `pkg/machinery/meta`): the `0xa=value` form users pass to
 * `--meta` and schematics, and the base64 (optionally gzip) encoding carried on the kernel command
 * line as `talos.environment=INSTALLER_META_BASE64=…` for the installer to write at install time.
 */
import { gunzipSync } from "node:zlib";
import { invalidInput } from "../../errors/index.js";
import { BEST_COMPRESSION, goGzip } from "../go-deflate/index.js";
import { parseGoIntLiteral } from "../../yaml/resolve.js";

/** One META entry: an 8-bit key and an arbitrary string value. */
export interface MetaValue {
  readonly key: number;
  readonly value: string;
}

/** Well-known META keys (upstream `pkg/machinery/meta/constants.go`). */
export const MetaKeys = {
  Upgrade: 0x06,
  StagedUpgradeImageRef: 0x07,
  StagedUpgradeInstallOptions: 0x08,
  StateEncryptionConfig: 0x09,
  MetalNetworkPlatformConfig: 0x0a,
  DownloadURLCode: 0x0b,
  UserReserved1: 0x0c,
  UserReserved2: 0x0d,
  UserReserved3: 0x0e,
  UUIDOverride: 0x0f,
  UniqueMachineToken: 0x10,
  DiskImageBootloader: 0x11,
} as const;

/** The environment variable (and cmdline `talos.environment` prefix) carrying encoded META values. */
export const META_VALUES_ENV_VAR = "INSTALLER_META_BASE64";

/** Above this many raw bytes the encoding is gzip-compressed, when the Talos version allows it. */
export const META_GZIP_THRESHOLD = 256;

// Decoded values larger than this cannot fit a META partition (two 256 KiB copies) anyway; the cap
// keeps a hostile gzip stream from inflating without bound.
const MAX_DECODED_BYTES = 1024 * 1024;

/**
 * A META key as Go's `strconv.ParseUint(s, 0, 8)` reads it: decimal, `0x`/`0o`/`0b` prefixes,
 * a leading `0` for octal, `_` digit separators; undefined when invalid or above 255.
 */
export function parseMetaKey(text: string): number | undefined {
  const v = parseGoIntLiteral(text, false);
  return v !== undefined && v <= 255n ? Number(v) : undefined;
}

/** Parses `key=value` (upstream `Value.Parse`); the value is everything after the first `=`. */
export function parseMetaValue(text: string): MetaValue {
  const eq = text.indexOf("=");
  if (eq < 0) throw invalidInput(`invalid META value ${JSON.stringify(text)}: expected <key>=<value>`);
  const keyText = text.slice(0, eq);
  const key = parseMetaKey(keyText);
  if (key === undefined) {
    throw invalidInput(
      `invalid META key ${JSON.stringify(keyText)}: expected an integer from 0 to 255 (e.g. 0x0a)`,
    );
  }
  return { key, value: text.slice(eq + 1) };
}

/** Renders a value as upstream `Value.String`: `0x<lower-case hex key>=<value>`. */
export function formatMetaValue(v: MetaValue): string {
  return `0x${v.key.toString(16)}=${v.value}`;
}

/** Rejects keys that are not 8-bit integers (they would silently wrap in Go). */
function checkKey(v: MetaValue): void {
  if (!Number.isInteger(v.key) || v.key < 0 || v.key > 255) {
    throw invalidInput(`invalid META key ${String(v.key)}: expected an integer from 0 to 255`);
  }
}

/**
 * Upstream `Values.Encode(allowGzip)`: values joined by `;`, gzip-compressed when allowed and
 * longer than 256 bytes (byte-identical to Go's `gzip.BestCompression`), then padded standard
 * base64. An empty list encodes to `""`.
 */
export function encodeMetaValues(values: readonly MetaValue[], allowGzip: boolean): string {
  values.forEach(checkKey);
  let raw: Uint8Array = Buffer.from(values.map(formatMetaValue).join(";"), "utf8");
  if (allowGzip && raw.length > META_GZIP_THRESHOLD) raw = goGzip(raw, BEST_COMPRESSION);
  return Buffer.from(raw).toString("base64");
}

// Go's StdEncoding decoder ignores CR and LF and requires canonical padding.
const STD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Upstream `DecodeValues`: base64, gunzip when the bytes start with the gzip magic (and are at
 * least 10 long), split on `;`, parse each. Empty input gives an empty list.
 */
export function decodeMetaValues(encoded: string): MetaValue[] {
  const text = encoded.replace(/[\r\n]/g, "");
  if (!STD_BASE64.test(text)) throw invalidInput("invalid META encoding: not padded standard base64");
  let bytes: Uint8Array = Buffer.from(text, "base64");
  if (bytes.length === 0) return [];
  if (bytes.length >= 10 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: MAX_DECODED_BYTES });
    } catch (e) {
      throw invalidInput(
        `invalid META encoding: gzip data is corrupt or larger than ${MAX_DECODED_BYTES} bytes`,
        {
          cause: e,
        },
      );
    }
  }
  const decoded = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  return decoded.split(";").map(parseMetaValue);
}

/** The `talos.environment` value the imager appends for META on non-disk outputs. */
export function metaEnvironmentValue(values: readonly MetaValue[], allowGzip: boolean): string {
  return `${META_VALUES_ENV_VAR}=${encodeMetaValues(values, allowGzip)}`;
}

/**
 * The imager's repeatable `--meta` flag value (upstream `install.MetaValues`, a pflag slice value):
 * the first `set` replaces the default list, later ones append.
 */
export class MetaValueList {
  private items: MetaValue[];
  private changed = false;

  constructor(defaults: readonly MetaValue[] = []) {
    this.items = [...defaults];
  }

  /** pflag `Set`: parses `key=value`; replaces defaults on first use, appends afterwards. */
  set(text: string): this {
    const v = parseMetaValue(text);
    this.items = this.changed ? [...this.items, v] : [v];
    this.changed = true;
    return this;
  }

  /** pflag `Append`: parses and appends `key=value`. */
  append(text: string): this {
    this.items.push(parseMetaValue(text));
    return this;
  }

  /** pflag `Replace`: the list becomes exactly these values (all parsed before anything changes). */
  replace(texts: readonly string[]): this {
    this.items = texts.map(parseMetaValue);
    return this;
  }

  /** The values in order. */
  get values(): MetaValue[] {
    return [...this.items];
  }

  /** pflag `GetSlice`: each value as `0x<key>=<value>`. */
  getSlice(): string[] {
    return this.items.map(formatMetaValue);
  }

  /** pflag `String`: `[0xa=foo,0x14=bar]`. */
  toString(): string {
    return `[${this.getSlice().join(",")}]`;
  }

  /** Encoded for the installer environment; never gzip-compressed, as upstream. */
  encode(): string {
    return encodeMetaValues(this.items, false);
  }

  /** Replaces the list with decoded values. */
  decode(encoded: string): this {
    this.items = decodeMetaValues(encoded);
    return this;
  }
}

/** Structured JSON logs (one object per line), with a level threshold. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** Upstream's `--log-level` values (zap's levels); the last three keep only such lines. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"] as const;
export type LogThreshold = (typeof LOG_LEVELS)[number];
const ORDER: Record<LogThreshold, number> = {
  debug: 10,
  info: 20,
  warn: 30,
  error: 40,
  dpanic: 50,
  panic: 60,
  fatal: 70,
};

/** Parses a `--log-level` value as zap does (either case); undefined when it is none. */
export function parseLogLevel(text: string): LogThreshold | undefined {
  const t = text.toLowerCase();
  return (LOG_LEVELS as readonly string[]).includes(t) ? (t as LogThreshold) : undefined;
}

/** A minimal structured logger. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** Keys whose position `{time, level, msg, ...fields}` fixes, and array-index keys JS orders first. */
const SPECIAL_KEY = /^(?:time|level|msg|\d+)$/;

let lastMs = -1;
let lastIso = "";

/** The current time as ISO 8601, formatted once per millisecond (every request logs it). */
function isoNow(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastIso = new Date(now).toISOString();
  }
  return lastIso;
}

/**
 * `JSON.stringify({ time, level, msg, ...fields })`, written out field by field: the same text
 * without building and spreading an object per line (a line per request adds up). Fields that
 * would land elsewhere in the spread object (a `time`, `level` or `msg` override, index-like
 * keys) take the general path.
 */
export function formatLine(
  time: string,
  level: LogLevel,
  msg: string,
  fields: Record<string, unknown>,
): string {
  let line = `{"time":"${time}","level":"${level}","msg":${jsonValue(msg)}`;
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue;
    const key = keyText(k);
    if (key === undefined) return JSON.stringify({ time, level, msg, ...fields });
    const v = jsonValue(fields[k]);
    if (v !== undefined) line += key + v;
  }
  return line + "}";
}

/** Printable ASCII but `"` and `\`: JSON text of such a string is the string in quotes. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** `JSON.stringify(v)` with the common cases (plain strings, numbers) done without the builtin. */
function jsonValue(v: unknown): string | undefined {
  if (typeof v === "string") return PLAIN.test(v) ? `"${v}"` : JSON.stringify(v);
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "null";
  return JSON.stringify(v);
}

/** `,"key":` per field name (a handful of names, each encoded once); undefined for special keys. */
const keyTexts = new Map<string, string | null>();
const KEY_CACHE_LIMIT = 1024;

function keyText(k: string): string | undefined {
  let t = keyTexts.get(k);
  if (t === undefined) {
    t = SPECIAL_KEY.test(k) ? null : `,${JSON.stringify(k)}:`;
    if (keyTexts.size < KEY_CACHE_LIMIT) keyTexts.set(k, t);
  }
  return t ?? undefined;
}

/** Writes JSON lines to `out` for levels at or above `min`. */
export function jsonLogger(out: (line: string) => void, min: LogThreshold = "info"): Logger {
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[min]) return;
      out(formatLine(isoNow(), level, msg, fields) + "\n");
    },
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { log: () => undefined };

/** Structured JSON logs (one object per line), with a level threshold. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

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
  let line = `{"time":"${time}","level":"${level}","msg":${JSON.stringify(msg)}`;
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue;
    if (SPECIAL_KEY.test(k)) return JSON.stringify({ time, level, msg, ...fields });
    const v = JSON.stringify(fields[k]);
    if (v !== undefined) line += `,${JSON.stringify(k)}:${v}`;
  }
  return line + "}";
}

/** Writes JSON lines to `out` for levels at or above `min`. */
export function jsonLogger(out: (line: string) => void, min: LogLevel = "info"): Logger {
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[min]) return;
      out(formatLine(isoNow(), level, msg, fields) + "\n");
    },
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { log: () => undefined };

/** Structured JSON logs (one object per line), with a level threshold. */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A minimal structured logger. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** Writes JSON lines to `out` for levels at or above `min`. */
export function jsonLogger(out: (line: string) => void, min: LogLevel = "info"): Logger {
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[min]) return;
      out(JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields }) + "\n");
    },
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = { log: () => undefined };

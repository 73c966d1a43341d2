/** The build timestamp: SOURCE_DATE_EPOCH when set (reproducible builds), else now. */
import { invalidInput } from "../errors/index.js";

/** Seconds since the epoch from SOURCE_DATE_EPOCH, or the current time when it is unset. */
export function buildTimestamp(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === "") return Math.floor(Date.now() / 1000);
  if (!/^\d+$/.test(raw))
    throw invalidInput(`SOURCE_DATE_EPOCH must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

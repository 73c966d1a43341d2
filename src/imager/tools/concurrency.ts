/**
 * An optional process-wide limit on external programs running at once:
 * `BOOTFORGE_TOOL_CONCURRENCY=N` (default: no limit; a build runs independent tools side by side).
 * `1` runs every tool alone, one after another — what the ISO benchmark measures its floor with,
 * and a way to bound the memory of tools on a small machine. Programs queue in start order.
 */
import { invalidInput } from "../../errors/index.js";

let configured: { raw: string | undefined; limit: number } | undefined;
let active = 0;
const waiting: (() => void)[] = [];

function limit(): number {
  const raw = process.env.BOOTFORGE_TOOL_CONCURRENCY;
  if (configured !== undefined && configured.raw === raw) return configured.limit;
  const n = raw === undefined || raw === "" ? Infinity : Number(raw);
  if (!(n === Infinity || (Number.isInteger(n) && n >= 1)))
    throw invalidInput(
      `BOOTFORGE_TOOL_CONCURRENCY must be a whole number of at least 1, not ${JSON.stringify(raw)}`,
    );
  configured = { raw, limit: n };
  return n;
}

/**
 * Whether tools are limited: a tool started ahead of its input would then hold a slot idle (and,
 * timed alone for the ISO benchmark's floor, count its wait as tool time).
 */
export function toolsLimited(): boolean {
  return limit() !== Infinity;
}

/** Waits for a free slot; the returned function gives it back (call it exactly once). */
export async function toolSlot(): Promise<() => void> {
  const max = limit();
  if (max === Infinity) return () => undefined;
  if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
  else active++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const next = waiting.shift();
    // The slot passes straight to the next waiter (active stays the same).
    if (next !== undefined) next();
    else active--;
  };
}

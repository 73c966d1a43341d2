/**
 * A frozen clock for external programs that stamp what they create with the current time
 * (mkfs.xfs protofile inodes, mtools directories, debugfs inodes): libfaketime preloaded with an
 * absolute time, so a build at SOURCE_DATE_EPOCH gives the same bytes on any day.
 */
import { accessSync, constants } from "node:fs";
import { dependencyError } from "../../errors/index.js";

const CANDIDATES = [
  "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
  "/usr/lib/faketime/libfaketime.so.1",
  "/usr/lib64/faketime/libfaketime.so.1",
];

let cached: string | null | undefined;

/** Path of libfaketime, or undefined when the Debian package `libfaketime` is not installed. */
export function lookupLibfaketime(): string | undefined {
  if (cached === undefined) {
    cached =
      CANDIDATES.find((p) => {
        try {
          accessSync(p, constants.R_OK);
          return true;
        } catch {
          return false;
        }
      }) ?? null;
  }
  return cached ?? undefined;
}

/** Environment that freezes the clock of a child process at `epoch` (seconds, UTC). */
export function frozenClockEnv(epoch: number): Record<string, string> {
  const lib = lookupLibfaketime();
  if (lib === undefined) {
    throw dependencyError(
      'reproducible filesystem images need libfaketime; install the Debian package "libfaketime" (apt-get install libfaketime)',
    );
  }
  const iso = new Date(epoch * 1000).toISOString();
  return {
    LD_PRELOAD: lib,
    // no leading "@": an absolute time that does not advance while the program runs
    FAKETIME: `${iso.slice(0, 10)} ${iso.slice(11, 19)}`,
    TZ: "UTC",
    SOURCE_DATE_EPOCH: String(epoch),
    E2FSPROGS_FAKE_TIME: String(epoch),
  };
}

/** SOURCE_DATE_EPOCH from the environment (seconds), or undefined when unset or not a number. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH?.trim();
  if (!raw || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}

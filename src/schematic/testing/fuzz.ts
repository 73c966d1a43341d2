/**
 * A seeded, bounded fuzzer for the schematic decoder. Each input must either decode or fail with
 * a BootforgeError, quickly; a decoded schematic must survive a canonical round trip.
 */

import { performance } from "node:perf_hooks";
import { cpuUsage } from "node:process";
import { isBootforgeError } from "../../errors/index.js";
import { GO_YAML_UNREADABLE, Gen, fuzzInput } from "./arbitrary.js";
import { canonicalSchematic, parseSchematic } from "../schematic.js";

/** Seed documents for mutation: the guide's schematics and a few that use every field. */
export const BUILTIN_SEEDS: readonly string[] = [
  "customization:\n  extraKernelArgs:\n    - net.ifnames=0\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/gvisor\n      - siderolabs/intel-ucode\n",
  "customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/gvisor\n",
  "overlay:\n  name: rpi_generic\n  image: siderolabs/sbc-raspberrypi\ncustomization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/iscsi-tools\n",
  '{"overlay": {"image": "siderolabs/sbc-raspberrypi", "name": "rpi_generic", "options": {"configTxtAppend": "dtoverlay=vc4-fkms-v3d", "n": [1, 2.5, {"k": null}]}}, "customization": {"embeddedMachineConfiguration": "apiVersion: v1alpha1\\nkind: HostnameConfig\\n", "extraKernelArgs": ["a", "yes"], "meta": [{"key": 10, "value": "x"}], "bootloader": "sd-boot", "secureboot": {"enrollKeys": "force", "includeWellKnownCertificates": true}, "diskImage": {"sectorSize": 4096}}}',
  "base: &b\n  extraKernelArgs: [a]\ncustomization:\n  <<: *b\n  meta:\n    - {key: 0xa, value: |\n        multi\n        line\n      }\n",
  "customization:\n  meta:\n    - key: 012\n      value: !!str 10\n  secureboot:\n    includeWellKnownCertificates: yes\n",
];

export interface FuzzReport {
  seed: number;
  inputs: number;
  accepted: number;
  rejected: number;
  tooLarge: number;
  /** Wall-clock time of the whole run. */
  totalMs: number;
  /** CPU time of the whole run and of the slowest input (robust on a busy machine). */
  cpuMs: number;
  slowestMs: number;
  /** Inputs that broke a rule, with what went wrong (empty when all is well). */
  failures: Array<{ input: string; problem: string }>;
}

function show(input: string | Uint8Array): string {
  const s = typeof input === "string" ? input : `bytes:${Buffer.from(input).toString("base64")}`;
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** Runs `count` inputs from `seed`. `slowMs` is the per-input CPU time that counts as a hang. */
export function fuzzSchematic(
  count: number,
  seed: number,
  seeds: readonly string[] = BUILTIN_SEEDS,
  slowMs = 2000,
): FuzzReport {
  const g = new Gen(seed);
  const report: FuzzReport = {
    seed,
    inputs: 0,
    accepted: 0,
    rejected: 0,
    tooLarge: 0,
    totalMs: 0,
    cpuMs: 0,
    slowestMs: 0,
    failures: [],
  };
  const all = [...BUILTIN_SEEDS, ...seeds];
  for (let i = 0; i < count; i++) {
    const input = fuzzInput(g, all);
    const started = performance.now();
    const cpuStarted = cpuUsage();
    try {
      const canonical = canonicalSchematic(parseSchematic(input));
      report.accepted++;
      let again: string;
      try {
        again = canonicalSchematic(parseSchematic(canonical));
      } catch (e) {
        again = `error: ${String(e)}`;
      }
      // go-yaml writes some block scalars it cannot read back itself (an indentation indicator
      // inside a sequence, a first content line after empty lines that starts with spaces); the
      // canonical bytes must still match upstream, so those are not failures here.
      const knownUnreadable = GO_YAML_UNREADABLE.test(canonical);
      if (again !== canonical && !knownUnreadable) {
        report.failures.push({
          input: show(input),
          problem: `canonical round trip changed:\n${canonical}\n→\n${again}`,
        });
      }
    } catch (e) {
      if (isBootforgeError(e, "too-large")) report.tooLarge++;
      else if (isBootforgeError(e)) report.rejected++;
      else report.failures.push({ input: show(input), problem: `threw ${String(e)}` });
    }
    const cpu = cpuUsage(cpuStarted);
    const ms = (cpu.user + cpu.system) / 1000;
    report.totalMs += performance.now() - started;
    report.cpuMs += ms;
    report.slowestMs = Math.max(report.slowestMs, ms);
    if (ms > slowMs) report.failures.push({ input: show(input), problem: `took ${ms.toFixed(0)} ms of CPU` });
    report.inputs++;
  }
  return report;
}

/** One line: counts, time and failures. */
export function summarize(r: FuzzReport): string {
  return (
    `fuzz-schematic seed=${r.seed} inputs=${r.inputs} accepted=${r.accepted} rejected=${r.rejected} ` +
    `too-large=${r.tooLarge} failures=${r.failures.length} wall=${(r.totalMs / 1000).toFixed(1)}s ` +
    `cpu=${(r.cpuMs / 1000).toFixed(1)}s slowest=${r.slowestMs.toFixed(1)}ms`
  );
}

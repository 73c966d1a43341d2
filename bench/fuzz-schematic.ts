/**
 * Full-size fuzzing of the schematic decoder: 100 000 seeded random and mutated inputs.
 * Usage: node --import tsx bench/fuzz-schematic.ts [count] [seed]
 * Prints one summary line; exits 1 if any input threw something other than a BootforgeError,
 * hung, or broke the canonical round trip.
 */
import { readFileSync } from "node:fs";
import { fuzzSchematic, summarize } from "../src/schematic/testing/fuzz.js";
import { sharedPath } from "../test/helpers/shared.js";

const count = Number(process.argv[2] ?? 100_000);
const seed = Number(process.argv[3] ?? 1);

let seeds: string[] = [];
try {
  const file = JSON.parse(readFileSync(sharedPath("vectors", "schematics.json"), "utf8")) as {
    vectors: Array<{ in: string }>;
  };
  seeds = file.vectors.map((v) => v.in);
} catch {
  // The shared vectors are optional here: the built-in seeds are enough to run.
}

const report = fuzzSchematic(count, seed, seeds);
console.log(summarize(report));
for (const f of report.failures.slice(0, 10)) {
  console.error(`failure: ${f.problem}\n  input: ${JSON.stringify(f.input)}`);
}
process.exitCode = report.failures.length === 0 ? 0 : 1;

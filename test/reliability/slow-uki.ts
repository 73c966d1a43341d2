/** The stand-in UKI the child factory builds: deterministic bytes a test can recompute. */
import { createHash } from "node:crypto";
import type { PipelineInput } from "../../src/factory/assets/asset-builder.js";

/** The bytes of MiB number `i` of the UKI for `seed`: what a restarted factory must reproduce. */
export function ukiChunk(seed: string, i: number): Buffer {
  const block = createHash("sha256").update(`${seed}:${i}`).digest();
  return Buffer.alloc(1 << 20, block);
}

/** The seed a UKI is derived from: its schematic, platform and architecture. */
export function ukiSeed(input: Pick<PipelineInput, "schematicId" | "arch" | "enhanced">): string {
  return `${input.schematicId}/${input.enhanced.profile.platform ?? ""}/${input.arch}`;
}

/** The SHA-256 of the whole UKI for `seed` of `mib` MiB. */
export function ukiDigest(seed: string, mib: number): string {
  const h = createHash("sha256");
  for (let i = 0; i < mib; i++) h.update(ukiChunk(seed, i));
  return h.digest("hex");
}

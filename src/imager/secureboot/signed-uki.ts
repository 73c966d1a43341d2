/**
 * The signed UKI build (upstream `uki.Builder.BuildSigned`): `.pcrpkey` after `.splash`,
 * a `.pcrsig` per UKI profile (≥ 1.10) or one at the end (< 1.10), assembled, then
 * Authenticode-signed in place.
 */
import { bytesOf, type ByteSource } from "../uki/byte-source.js";
import type { PlacedSection } from "../../formats/pe/pe-layout.js";
import { assembleUki, planUkiSections, type PlannedSection, type UkiInputs } from "../uki/uki.js";
import { Quirks } from "../../profile/quirks.js";
import { signPe } from "./authenticode.js";
import {
  pcrPublicKeyPem,
  pcrSignatureJson,
  signPcrPolicy,
  TALOS_PHASES,
  type Phase,
  type PcrSignature,
} from "./pcr.js";
import type { CertificateSigner, DigestSigner } from "./signer.js";

/** The two signers of a signed UKI. */
export interface UkiSigners {
  /** Authenticode signer (UKI signing key + certificate). */
  uki: CertificateSigner;
  /** PCR policy signer (`.pcrpkey` / `.pcrsig`). */
  pcr: DigestSigner;
  /** Releases remote signers' connections (gRPC signer services); absent for key files. */
  close?: () => void;
}

/** Options of `buildSignedUki`. */
export interface SignedUkiOptions {
  /** Phases extended after the sections (default: Talos' enter-initrd, leave-initrd, enter-machined). */
  phases?: readonly Phase[];
  /** Authenticode signingTime in seconds; defaults to SOURCE_DATE_EPOCH or now. */
  signingTime?: number;
}

/** Result of a signed build: section layout and the `.pcrsig` contents in order. */
export interface SignedUkiResult {
  sections: PlacedSection[];
  pcrSignatures: PcrSignature[];
}

const byName = (entries: readonly PlannedSection[]) =>
  new Map<string, ByteSource>(entries.map((s) => [s.name, s.source]));

/** Inserts `.pcrsig` sections into a plan exactly where upstream does; returns the signatures. */
export async function addPcrSignatures(
  plan: PlannedSection[],
  version: string,
  pcr: DigestSigner,
  phases: readonly Phase[] = TALOS_PHASES,
): Promise<PcrSignature[]> {
  const measured = plan.filter((s) => s.measure);
  const pcrsig = (sig: PcrSignature): PlannedSection => ({
    name: ".pcrsig",
    source: bytesOf(pcrSignatureJson(sig)),
    measure: false,
    append: true,
  });
  const starts = measured.flatMap((s, i) => (s.name === ".profile" ? [i] : []));
  if (!new Quirks(version).supportsUKIProfiles || starts.length === 0) {
    const sig = await signPcrPolicy(byName(measured), pcr, phases);
    plan.push(pcrsig(sig));
    return [sig];
  }
  const base = measured.slice(0, starts[0]);
  const sigs: PcrSignature[] = [];
  for (const [i, start] of starts.entries()) {
    const end = starts[i + 1] ?? measured.length;
    // Keyed by name, so a profile's own `.cmdline` replaces the base one.
    const sig = await signPcrPolicy(byName([...base, ...measured.slice(start, end)]), pcr, phases);
    // Indexes count the measured sections; every earlier `.pcrsig` shifts the next by one.
    plan.splice(end + i, 0, pcrsig(sig));
    sigs.push(sig);
  }
  return sigs;
}

/** Builds a SecureBoot-signed UKI at `outPath` (section order as upstream's signed build). */
export async function buildSignedUki(
  inputs: UkiInputs,
  signers: UkiSigners,
  outPath: string,
  opts: SignedUkiOptions = {},
): Promise<SignedUkiResult> {
  const plan = await planUkiSections(inputs, pcrPublicKeyPem(signers.pcr));
  const pcrSignatures = await addPcrSignatures(plan, inputs.version, signers.pcr, opts.phases);
  const sections = await assembleUki(inputs.stub, plan, outPath, inputs.timestamp);
  await signPe(
    outPath,
    outPath,
    signers.uki,
    opts.signingTime === undefined ? {} : { signingTime: opts.signingTime },
  );
  return { sections, pcrSignatures };
}

/**
 * PCR 11 prediction and signed policies for a UKI, as systemd-stub measures it and as
 * upstream's `internal/pkg/measure` signs it: section names and contents, then boot
 * phases, extended into a simulated PCR; the PolicyPCR digest is signed per bank.
 */
import { createHash } from "node:crypto";
import { sourceChunks, type ByteSource } from "../uki/byte-source.js";
import type { DigestSigner, HashName } from "./signer.js";

/** The PCR systemd-stub measures UKI sections into. */
export const UKI_PCR = 11;

/** The fixed order in which systemd-stub measures sections (upstream `OrderedSections`). */
export const MEASURED_SECTIONS = [
  ".linux",
  ".osrel",
  ".cmdline",
  ".initrd",
  ".ucode",
  ".splash",
  ".dtb",
  ".uname",
  ".sbat",
  ".pcrpkey",
  ".profile",
  ".dtbauto",
  ".hwids",
] as const;

/** A boot phase string extended into PCR 11, and whether a policy is signed after it. */
export interface Phase {
  phase: string;
  sign: boolean;
}

/** Talos' phases: only the state after `enter-machined` is signed (disk unlock happens in machined). */
export const TALOS_PHASES: readonly Phase[] = [
  { phase: "enter-initrd", sign: false },
  { phase: "leave-initrd", sign: false },
  { phase: "enter-machined", sign: true },
];

/** Banks in upstream's order (no SHA-1). */
export const PCR_BANKS: readonly HashName[] = ["sha256", "sha384", "sha512"];

const TPM_ALG: Record<HashName, number> = { sha256: 0x000b, sha384: 0x000c, sha512: 0x000d };
const TPM_CC_POLICY_PCR = 0x0000017f;

/** One signed policy of a bank (`.pcrsig` JSON entry, Go field order). */
export interface BankData {
  pcrs: number[];
  pkfp: string;
  pol: string;
  sig: string;
}

/** `.pcrsig` content: signed policies per bank. */
export interface PcrSignature {
  sha256?: BankData[];
  sha384?: BankData[];
  sha512?: BankData[];
}

/** Digests of every measured section's name and content, for each bank, streaming each source once. */
async function sectionDigests(sections: ReadonlyMap<string, ByteSource>, banks: readonly HashName[]) {
  const out = new Map<string, Map<HashName, Buffer>>();
  for (const name of MEASURED_SECTIONS) {
    const src = sections.get(name);
    if (!src) continue;
    const hashes = banks.map((b) => createHash(b));
    for await (const chunk of sourceChunks(src)) for (const h of hashes) h.update(chunk);
    out.set(name, new Map(banks.map((b, i) => [b, hashes[i]!.digest()])));
  }
  return out;
}

/** PCR values of `bank` after each phase (index-aligned with `phases`), from section digests. */
function simulate(
  digests: Map<string, Map<HashName, Buffer>>,
  bank: HashName,
  phases: readonly Phase[],
): Buffer[] {
  let pcr = Buffer.alloc(createHash(bank).digest().length);
  const extendDigest = (d: Buffer) => {
    pcr = createHash(bank).update(pcr).update(d).digest();
  };
  const extend = (data: Buffer) => extendDigest(createHash(bank).update(data).digest());
  for (const [name, perBank] of digests) {
    // Section names are measured with their terminating NUL, phases without.
    extend(Buffer.from(`${name}\0`, "latin1"));
    extendDigest(perBank.get(bank)!);
  }
  return phases.map((p) => {
    extend(Buffer.from(p.phase, "utf8"));
    return pcr;
  });
}

/** Predicted PCR 11 value per bank after each phase, for the given UKI sections (keyed by name). */
export async function predictPcr11(
  sections: ReadonlyMap<string, ByteSource>,
  phases: readonly Phase[] = TALOS_PHASES,
  banks: readonly HashName[] = PCR_BANKS,
): Promise<Map<HashName, Buffer[]>> {
  const digests = await sectionDigests(sections, banks);
  return new Map(banks.map((b) => [b, simulate(digests, b, phases)]));
}

/** TPM2 PolicyPCR digest (always a SHA-256 session) selecting PCR 11 of `bank` with `pcrValue`. */
export function policyPcrDigest(pcrValue: Buffer, bank: HashName, pcr = UKI_PCR): Buffer {
  const selection = Buffer.alloc(4 + 2 + 1 + 3);
  selection.writeUInt32BE(1, 0); // TPML_PCR_SELECTION.count
  selection.writeUInt16BE(TPM_ALG[bank], 4);
  selection.writeUInt8(3, 6); // sizeofSelect
  selection[7 + (pcr >> 3)] = 1 << (pcr & 7);
  const cc = Buffer.alloc(4);
  cc.writeUInt32BE(TPM_CC_POLICY_PCR);
  const pcrDigest = createHash("sha256").update(pcrValue).digest();
  return createHash("sha256")
    .update(Buffer.alloc(32))
    .update(cc)
    .update(selection)
    .update(pcrDigest)
    .digest();
}

/** SHA-256 of the PKCS#1 DER public key: systemd's and upstream's `pkfp`. */
export function publicKeyFingerprint(signer: DigestSigner): string {
  return createHash("sha256")
    .update(signer.publicKey.export({ type: "pkcs1", format: "der" }))
    .digest("hex");
}

/** The PCR public key as `.pcrpkey` wants it: PEM "PUBLIC KEY" (PKIX). */
export function pcrPublicKeyPem(signer: DigestSigner): string {
  return signer.publicKey.export({ type: "spki", format: "pem" }).toString();
}

/** Predicts PCR 11 for `sections` and signs the policy after each signing phase, per bank. */
export async function signPcrPolicy(
  sections: ReadonlyMap<string, ByteSource>,
  signer: DigestSigner,
  phases: readonly Phase[] = TALOS_PHASES,
  banks: readonly HashName[] = PCR_BANKS,
): Promise<PcrSignature> {
  const predicted = await predictPcr11(sections, phases, banks);
  const pkfp = publicKeyFingerprint(signer);
  const result: PcrSignature = {};
  for (const bank of banks) {
    const entries: BankData[] = [];
    const values = predicted.get(bank)!;
    for (const [i, p] of phases.entries()) {
      if (!p.sign) continue;
      const pol = policyPcrDigest(values[i]!, bank);
      const sig = await signer.signDigest(createHash(bank).update(pol).digest(), bank);
      entries.push({ pcrs: [UKI_PCR], pkfp, pol: pol.toString("hex"), sig: sig.toString("base64") });
    }
    result[bank] = entries;
  }
  return result;
}

/** `.pcrsig` bytes: compact JSON in upstream's field order, no trailing newline. */
export function pcrSignatureJson(sig: PcrSignature): string {
  const ordered: PcrSignature = {};
  for (const bank of PCR_BANKS)
    if (sig[bank]?.length)
      ordered[bank] = sig[bank].map(({ pcrs, pkfp, pol, sig: s }) => ({ pcrs, pkfp, pol, sig: s }));
  return JSON.stringify(ordered);
}

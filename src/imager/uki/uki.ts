/**
 * The UKI section plan and the unsigned UKI build (upstream `uki.Builder.Build`).
 * The signed build (`secureboot/signed-uki.ts`) reuses the same plan, adding `.pcrpkey`
 * and `.pcrsig`, so both orders stay in one place.
 */
import { invalidInput } from "../../errors/index.js";
import { Quirks } from "../../profile/quirks.js";
import type { PlacedSection } from "../../formats/pe/pe-layout.js";
import { bootforgeSplash } from "../../formats/pe/splash-bmp.js";
import { osRelease, profileText, type UkiProfile } from "../../formats/pe/uki-sections.js";
import { assemblePe, layoutPe, type PeLayout } from "./assemble.js";
import { bytesOf, type ByteSource } from "./byte-source.js";
import { discoverKernelVersion, findStubSbat } from "./section-content.js";

/** Inputs of a UKI build. */
export interface UkiInputs {
  /** systemd-stub (`linuxx64.efi.stub` / `linuxaa64.efi.stub`), unsigned PE32+. */
  stub: string;
  /** Kernel image (`.linux`). */
  kernel: ByteSource;
  /** initramfs (`.initrd`). */
  initrd: ByteSource;
  /** Kernel command line, stored without newline or NUL. */
  cmdline: string;
  /** Talos version: `.osrel` VERSION_ID and the version quirks (profiles from 1.10). */
  version: string;
  /** os-release NAME (default "Talos"). */
  name?: string;
  /** `.uname` text; undefined discovers it from an x86 bzImage, null omits the section. */
  uname?: string | null;
  /** `.splash` BMP; defaults to Bootforge's generated splash. */
  splash?: ByteSource;
  /** Extra UKI profiles after `main` (≥ 1.10 only), e.g. from `extraUkiProfiles`. */
  profiles?: readonly UkiProfile[];
  /** COFF TimeDateStamp; defaults to SOURCE_DATE_EPOCH or now. */
  timestamp?: number;
}

/** One entry of the plan: measured into PCR 11 and/or appended to the PE. */
export interface PlannedSection {
  name: string;
  source: ByteSource;
  measure: boolean;
  append: boolean;
}

/** The ordered sections of a UKI (upstream builder.sections); `pcrPublicKey` adds `.pcrpkey`. */
export async function planUkiSections(inputs: UkiInputs, pcrPublicKey?: string): Promise<PlannedSection[]> {
  const plan: PlannedSection[] = [];
  const add = (name: string, source: ByteSource, append = true) =>
    plan.push({ name, source, measure: true, append });
  // Upstream requires the stub's `.sbat`; we skip it only for stubs without one (see findStubSbat).
  const sbat = await findStubSbat(inputs.stub);
  if (sbat) add(".sbat", bytesOf(sbat), false);
  add(".osrel", bytesOf(osRelease(inputs.version, inputs.name)));
  add(".cmdline", bytesOf(inputs.cmdline));
  const uname = inputs.uname === undefined ? await discoverKernelVersion(inputs.kernel) : inputs.uname;
  if (uname) add(".uname", bytesOf(uname));
  add(".splash", inputs.splash ?? bytesOf(bootforgeSplash()));
  if (pcrPublicKey !== undefined) add(".pcrpkey", bytesOf(pcrPublicKey));
  add(".linux", inputs.kernel);
  add(".initrd", inputs.initrd);
  if (new Quirks(inputs.version).supportsUKIProfiles) {
    const extra = inputs.profiles ?? [];
    if (extra.some((p) => p.id === "main")) throw invalidInput("UKI profile with ID 'main' is reserved");
    for (const p of [{ id: "main" }, ...extra]) {
      add(".profile", bytesOf(profileText(p)));
      if (p.cmdline) add(".cmdline", bytesOf(p.cmdline));
    }
  } else if (inputs.profiles?.length) {
    throw invalidInput(`UKI profiles need Talos 1.10 or later, not ${inputs.version}`);
  }
  return plan;
}

/** The sections of a plan that go into the PE, in order. */
const appended = (plan: readonly PlannedSection[]) =>
  plan.filter((s) => s.append).map((s) => ({ name: s.name, source: s.source }));

/** Assembles the appended sections of a plan onto the stub at `outPath`. */
export async function assembleUki(
  stub: string,
  plan: readonly PlannedSection[],
  outPath: string,
  timestamp?: number,
): Promise<PlacedSection[]> {
  return assemblePe(
    { stub, sections: appended(plan), ...(timestamp === undefined ? {} : { timestamp }) },
    outPath,
  );
}

/** Builds an unsigned UKI at `outPath` (sections in upstream order). */
export async function buildUki(inputs: UkiInputs, outPath: string): Promise<PlacedSection[]> {
  return (await layoutUki(inputs)).write(outPath);
}

/** An unsigned UKI laid out: its size is known before it is written. */
export async function layoutUki(inputs: UkiInputs): Promise<PeLayout> {
  return layoutPe({
    stub: inputs.stub,
    sections: appended(await planUkiSections(inputs)),
    ...(inputs.timestamp === undefined ? {} : { timestamp: inputs.timestamp }),
  });
}

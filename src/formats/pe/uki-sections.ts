/**
 * Content of the generated UKI sections (upstream `internal/pkg/uki/generate.go`):
 * os-release, kernel version from a bzImage header and `.profile` text. What is read from
 * files (the kernel's header, the stub's `.sbat`) is `imager/uki/section-content.ts`.
 */

/** `.osrel` content: upstream's OSReleaseTemplate for (name, version), trailing newline included. */
export function osRelease(version: string, name = "Talos"): string {
  const id = name.replaceAll(" ", "_").toLowerCase();
  return [
    `NAME="${name}"`,
    `ID=${id}`,
    `VERSION_ID=${version}`,
    `PRETTY_NAME="${name} (${version})"`,
    `HOME_URL="https://www.talos.dev/"`,
    `BUG_REPORT_URL="https://github.com/siderolabs/talos/issues"`,
    `VENDOR_NAME="Sidero Labs"`,
    `VENDOR_URL="https://www.siderolabs.com/"`,
    "",
  ].join("\n");
}

/** Kernel version from an x86 bzImage's setup header, or undefined when there is none (e.g. arm64). */
export function kernelVersionFromBzImage(image: Buffer): string | undefined {
  if (image.length < 0x210 || image.toString("latin1", 0x202, 0x206) !== "HdrS") return undefined;
  const setupSects = image[0x1f1]!;
  const offset = image.readUInt16LE(0x20e);
  if (offset === 0 || offset > setupSects * 0x200) return undefined;
  const start = offset + 0x200;
  // Upstream reads exactly 256 bytes and gives up when fewer are there.
  if (start + 256 > image.length) return undefined;
  const raw = image.subarray(start, start + 256);
  const nul = raw.indexOf(0);
  if (nul === -1) return undefined;
  return raw.toString("latin1", 0, nul).split(" ")[0];
}

/** A UKI profile (≥ 1.10): `.profile` text and an optional `.cmdline` override. */
export interface UkiProfile {
  id: string;
  title?: string;
  cmdline?: string;
}

/** `.profile` content: `ID=<id>` plus `\nTITLE=<title>`, no trailing newline. */
export function profileText(p: UkiProfile): string {
  return p.title ? `ID=${p.id}\nTITLE=${p.title}` : `ID=${p.id}`;
}

/** Output kinds that decide the extra UKI profile (upstream imager `outUKI`/`outISO`/…). */
export type UkiProfileOutputKind = "iso" | "image" | "installer" | "uki";

/** The extra profiles upstream adds after `main` for an output kind, given the base cmdline. */
export function extraUkiProfiles(kind: UkiProfileOutputKind, cmdline: string): UkiProfile[] {
  switch (kind) {
    case "iso":
      return [
        { id: "reset", title: "Reset system disk", cmdline: `${cmdline} talos.experimental.wipe=system` },
      ];
    case "image":
    case "installer":
      return [
        {
          id: "reset-maintenance",
          title: "Reset to maintenance mode",
          cmdline: `${cmdline} talos.experimental.wipe=system:EPHEMERAL,STATE`,
        },
      ];
    case "uki":
      return [];
  }
}

/**
 * The grub.cfg Talos disk images boot from (upstream `grub/encode.go` in image mode): one "A"
 * entry with the imager's kernel command line, plus the reset entry on versions that have it.
 */

/** Backslash-escapes the characters GRUB's parser treats specially (upstream `grub.Quote`). */
export function grubQuote(s: string): string {
  return s.replace(/[\\{}&$|;<>"]/g, (c) => `\\${c}`);
}

/** Options of `grubImageConfig`. */
export interface GrubImageConfigOptions {
  /** Profile version, e.g. `v1.11.0` (shown in the menu). */
  version: string;
  cmdline: string;
  /** Add the "Reset Talos installation" entry (Talos ≥ 1.4). */
  resetOption: boolean;
}

const entry = (title: string, cmdline: string) =>
  [
    `menuentry "${title}" {`,
    "  set gfxmode=auto",
    "  set gfxpayload=text",
    `  linux /A/vmlinuz ${cmdline}`,
    "  initrd /A/initramfs.xz",
    "}",
  ].join("\n");

/** The grub.cfg text for a disk image's BOOT partition. */
export function grubImageConfig(options: GrubImageConfigOptions): string {
  const title = `A - Talos ${options.version}`;
  const cmdline = grubQuote(options.cmdline);
  const lines = [
    `set default="${title}"`,
    "",
    "set timeout=3",
    "",
    "insmod all_video",
    "",
    "terminal_input console",
    "terminal_output console",
    "",
    entry(title, cmdline),
  ];
  if (options.resetOption) {
    lines.push(
      entry(
        "Reset Talos installation and return to maintenance mode",
        `${cmdline} talos.experimental.wipe=system:EPHEMERAL,STATE`,
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}

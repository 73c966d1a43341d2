/** GRUB word quoting for kernel command lines (upstream `grub.Quote`/`grub.Unquote`). */

// Order matters: the backslash is escaped first so the escapes added later are not doubled.
const QUOTE_ORDER = ["\\", "{", "}", "&", "$", "|", ";", "<", ">", '"'];
// Unquoting handles the backslash second to last, as upstream does, so `\\\$` becomes `\$`.
const UNQUOTE_ORDER = ["{", "}", "&", "$", "|", ";", "<", ">", "\\", '"'];

/** Backslash-escapes the characters GRUB treats specially: `\ { } & $ | ; < > "`. */
export function grubQuote(s: string): string {
  let out = s;
  for (const c of QUOTE_ORDER) out = out.replaceAll(c, `\\${c}`);
  return out;
}

/** Reverses `grubQuote` the way upstream reads a GRUB config back. */
export function grubUnquote(s: string): string {
  let out = s;
  for (const c of UNQUOTE_ORDER) out = out.replaceAll(`\\${c}`, c);
  return out;
}

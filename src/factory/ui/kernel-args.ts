/**
 * Checks the wizard's kernel-arguments field before it becomes `extraKernelArgs`. Upstream takes
 * any text and fails (or silently misbehaves) at boot; a form can say what is wrong right away.
 */
import { Cmdline } from "../../cmdline/index.js";

/** Linux's COMMAND_LINE_SIZE on x86 and arm64: the whole line, defaults included, must fit. */
const MAX_EXTRA_LENGTH = 2048;

/** The outcome of checking the field: the args to store, or the problems to show. */
export type KernelArgsCheck =
  | { ok: true; args: string[]; removes: string[]; adds: string[] }
  | { ok: false; errors: string[] };

/** Splits and checks the kernel-arguments text (space separated; `-key` removes a default). */
export function checkKernelArgs(text: string): KernelArgsCheck {
  const errors: string[] = [];
  // Control characters (newlines included) would end or corrupt the command line.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f\u007f]/.test(text)) errors.push("control characters are not allowed");
  const args = text.split(/\s+/).filter((a) => a !== "");
  const joined = args.join(" ");
  if (joined.length > MAX_EXTRA_LENGTH) {
    errors.push(`kernel arguments are ${joined.length} characters long; the kernel accepts at most ${MAX_EXTRA_LENGTH}`);
  }
  if ((joined.match(/"/g) ?? []).length % 2 !== 0) errors.push("unbalanced double quote");
  for (const a of args) {
    if (a === "-") errors.push('"-" alone removes nothing: write -key or -key=value');
    else if (a.startsWith("=") || a.startsWith("-=")) errors.push(`"${a}" has no parameter name`);
    else if (a.startsWith("--")) errors.push(`"${a}": use a single "-" to remove a default argument`);
  }
  if (errors.length > 0) return { ok: false, errors };
  const removes: string[] = [];
  const adds: string[] = [];
  for (const p of Cmdline.parse(joined).parameters) {
    const negated = p.key.length > 1 && p.key.startsWith("-");
    for (const v of p.values) {
      const shown = v === "" ? p.key.slice(negated ? 1 : 0) : `${p.key.slice(negated ? 1 : 0)}=${v}`;
      (negated ? removes : adds).push(shown);
    }
  }
  return { ok: true, args, removes, adds };
}

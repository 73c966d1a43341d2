/**
 * The ISO stage's view of `build/tools`: the same registry and runner, with stdout decoded as
 * text. Kept so `build/iso` need not change in the same commit; new code imports `build/tools`.
 */
import { requireTool, type ToolName } from "../tools/registry.js";
import { run, type RunOptions } from "../tools/run.js";

/** Any program these stages run (every one is in `build/tools`' registry). */
export type ProgramName = ToolName;

/** Absolute path of `name`; a dependency error naming its Debian package when it is missing. */
export const requireProgram = requireTool;

export type ProgramOptions = Omit<RunOptions, "stdout" | "stdin"> & { stdin?: string | Uint8Array };

/** Runs `name args…` without a shell; resolves with stdout as text or rejects with a BootforgeError. */
export async function runProgram(
  name: ProgramName,
  args: readonly string[],
  options: ProgramOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = await run(name, args, options);
  return { stdout: stdout.toString("utf8"), stderr };
}

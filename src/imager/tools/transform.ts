/** Streaming transformers: pipe a Readable through an external program (xz, zstd…) into a Writable. */
import type { Readable, Writable } from "node:stream";
import { run, type RunOptions } from "./run.js";
import type { ToolName } from "./registry.js";

/** Streams `input` through `tool args…` (which must read stdin and write stdout) into `output`. */
export async function transform(
  tool: ToolName,
  args: readonly string[],
  input: Readable,
  output: Writable,
  options: Omit<RunOptions, "stdin" | "stdout"> = {},
): Promise<void> {
  await run(tool, args, { ...options, stdin: input, stdout: output });
}

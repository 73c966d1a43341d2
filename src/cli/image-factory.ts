/**
 * The `image-factory` command line: the service (to come: `serve`) and small offline helpers.
 *
 *   image-factory schematic id <file|->   print the canonical schematic YAML, then its ID
 *
 * Errors go to stderr as `image-factory: <message>`; the exit code comes from the error kind
 * (invalid input, too large: 2).
 */

import { readFile } from "node:fs/promises";
import { Command, CommanderError } from "commander";
import { BootforgeError, exitCodeOf, isBootforgeError } from "../errors/index.js";
import {
  MAX_SCHEMATIC_BYTES,
  canonicalSchematic,
  idOfCanonical,
  parseSchematic,
} from "../schematic/index.js";

export interface CliIO {
  stdin: AsyncIterable<Uint8Array | string>;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

const defaultIO = (): CliIO => ({ stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });

/** Reads a whole stream, failing once it grows past `limit` bytes. */
async function readLimited(
  stream: AsyncIterable<Uint8Array | string>,
  limit: number,
  what: string,
): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
    size += b.byteLength;
    if (size > limit) {
      throw new BootforgeError("too-large", `${what} is larger than the limit of ${limit} bytes (1 MiB)`);
    }
    chunks.push(b);
  }
  return new Uint8Array(Buffer.concat(chunks));
}

async function readInput(file: string, io: CliIO): Promise<Uint8Array> {
  if (file === "-") return readLimited(io.stdin, MAX_SCHEMATIC_BYTES, "schematic on stdin");
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new BootforgeError("not-found", `${file}: no such file`);
    throw new BootforgeError("io", `${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** The `schematic` command group: offline tools for schematics. */
function schematicCommand(io: CliIO): Command {
  const cmd = new Command("schematic").description("work with schematics offline");
  cmd
    .command("id")
    .description("print the canonical YAML of a schematic (YAML or JSON), then its ID")
    .argument("<file>", "schematic file, or - for stdin")
    .option("--json", 'print the upstream API response instead: {"id": …, "schematic": …}')
    .action(async (file: string, opts: { json?: boolean }) => {
      const schematic = parseSchematic(await readInput(file, io));
      const canonical = canonicalSchematic(schematic);
      const id = idOfCanonical(canonical);
      if (opts.json) io.stdout.write(`${JSON.stringify({ id, schematic: canonical })}\n`);
      else io.stdout.write(`${canonical}${id}\n`);
    });
  return cmd;
}

/** The program; commands are added here (`serve` comes with the factory service). */
export function buildProgram(io: CliIO = defaultIO()): Command {
  const program = new Command("image-factory")
    .description("Bootforge Image Factory: Talos boot assets from schematics")
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  program.addCommand(schematicCommand(io));
  for (const sub of program.commands) {
    sub
      .exitOverride()
      .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    for (const leaf of sub.commands) {
      leaf
        .exitOverride()
        .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    }
  }
  return program;
}

/** Runs the CLI with `argv` (without node and script); sets `process.exitCode`. */
export async function main(argv: string[], io: CliIO = defaultIO()): Promise<void> {
  try {
    await buildProgram(io).parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; usage errors are invalid input (commander printed them).
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    io.stderr.write(`image-factory: ${isBootforgeError(e) ? e.message : String(e)}\n`);
    process.exitCode = exitCodeOf(e);
  }
}

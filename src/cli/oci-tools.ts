/**
 * `oci` subcommands (export, push, tags, digest) as a commander command, for the image-factory
 * and imager entry points to mount: `program.addCommand(ociCommand())`.
 */
import { Command } from "commander";
import { exitCodeOf, invalidInput, isBootforgeError } from "../errors/index.js";
import { exportImage, imageDigest, listTags, pushArchive, type ToolOptions } from "../oci/tools.js";

interface Flags {
  platform?: string;
  insecure?: boolean;
}

function options(flags: Flags): ToolOptions {
  return {
    ...(flags.platform ? { platform: flags.platform } : {}),
    ...(flags.insecure ? { insecure: true } : {}),
  };
}

/** Runs `fn`, printing a BootforgeError as one line and setting the matching exit code. */
async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    process.stderr.write(`error: ${isBootforgeError(e) ? e.message : String(e)}\n`);
    process.exitCode = exitCodeOf(e);
  }
}

/** The `oci` command with its subcommands. */
export function ociCommand(): Command {
  const oci = new Command("oci").description("work with OCI images (daemonless, like crane)");
  const common = (c: Command) =>
    c
      .option("--platform <os/arch[/variant]>", "platform to pick from multi-platform images")
      .option("--insecure", "use plain HTTP for the registry");
  common(
    oci.command("export <image>").description("write the image's flattened filesystem as a tar to stdout"),
  ).action((image: string, flags: Flags) =>
    guarded(() => exportImage(image, process.stdout, options(flags))),
  );
  common(
    oci.command("push <tarball> <ref>").description("push a docker-archive or OCI tar to a registry"),
  ).action((tarball: string, ref: string, flags: Flags) =>
    guarded(async () => {
      process.stdout.write(`${await pushArchive(tarball, ref, options(flags))}\n`);
    }),
  );
  common(oci.command("tags <repository>").description("list a repository's tags"))
    .option("--page-size <n>", "ask for n tags per request (pages are followed to the end)")
    .action((repo: string, flags: Flags & { pageSize?: string }) =>
      guarded(async () => {
        const n = flags.pageSize === undefined ? undefined : Number(flags.pageSize);
        if (n !== undefined && !(Number.isInteger(n) && n > 0))
          throw invalidInput(`--page-size ${JSON.stringify(flags.pageSize)}: expected a positive integer`);
        for (const t of await listTags(repo, options(flags), n)) process.stdout.write(`${t}\n`);
      }),
    );
  common(oci.command("digest <image>").description("print the digest an image reference resolves to")).action(
    (image: string, flags: Flags) =>
      guarded(async () => {
        process.stdout.write(`${await imageDigest(image, options(flags))}\n`);
      }),
  );
  return oci;
}

/** Standalone entry: `node --import tsx src/cli/oci-tools.ts oci <sub> …` (tests and bench use this). */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("bootforge").exitOverride();
  program.addCommand(ociCommand());
  await program.parseAsync(argv, { from: "user" });
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) {
  void main(process.argv.slice(2));
}

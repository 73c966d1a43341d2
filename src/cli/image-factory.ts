/**
 * The `image-factory` command line: `serve` (the default) runs the factory; `schematic id`
 * prints the ID of a schematic file (or stdin) as the factory would compute it.
 */
import { readFile } from "node:fs/promises";
import { Command } from "commander";
import { isBootforgeError } from "../errors/index.js";
import { configFromEnv, configFromFile, resolveConfig, type ResolvedConfig } from "../factory/config.js";
import { createFactory } from "../factory/factory.js";
import { jsonLogger } from "../factory/logger.js";
import { listen } from "../factory/server.js";
import type * as Fixtures from "../../fixtures/index.js";
import { canonicalSchematic, idOfCanonical, parseSchematic } from "../schematic/index.js";

interface ServeFlags {
  config?: string;
  listen?: string;
  externalUrl?: string;
  storageDir?: string;
  releaseLayout?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Builds the demo (fixture) release if needed and returns its layout directory. */
async function demoRelease(log: (l: string) => void): Promise<string> {
  // The fixture builder lives outside src/ (it is test and demo tooling); load it only for the demo.
  const spec = "../../fixtures/index.js";
  const fixtures = (await import(spec)) as typeof Fixtures;
  log("image-factory: preparing the demo release (built on first use; this can take a few minutes)");
  const res = await fixtures.ensureFixtureRelease((l) => log(`  ${l}`));
  return res.dir;
}

async function loadConfig(flags: ServeFlags): Promise<ResolvedConfig> {
  const file = flags.config ?? process.env.BOOTFORGE_CONFIG;
  const fromFlags: Record<string, unknown> = {};
  const http: Record<string, unknown> = {};
  if (flags.listen !== undefined) http.listen = flags.listen;
  if (flags.externalUrl !== undefined) http.externalURL = flags.externalUrl;
  if (Object.keys(http).length > 0) fromFlags.http = http;
  if (flags.storageDir !== undefined) fromFlags.storage = { dir: flags.storageDir };
  if (flags.releaseLayout !== undefined)
    fromFlags.release = { source: "layout", layout: flags.releaseLayout };
  return resolveConfig(file ? await configFromFile(file) : {}, configFromEnv(process.env), fromFlags);
}

async function serveCommand(flags: ServeFlags): Promise<void> {
  const log = (l: string): void => void process.stderr.write(l + "\n");
  let config = await loadConfig(flags);
  if (config.release.source === "demo" && config.release.layout === undefined) {
    config = { ...config, release: { ...config.release, layout: await demoRelease(log) } };
  }
  const factory = await createFactory(config, { logger: jsonLogger((l) => process.stdout.write(l)) });
  const server = await listen(factory.app, config.http.listen);
  log(`image-factory: serving at ${server.url} (external URL ${config.http.externalURL})`);
  log(`  try: curl -X POST --data-binary 'customization: {}' ${server.url}/schematics`);
  log(`       curl ${server.url}/versions`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`image-factory: ${signal}, shutting down`);
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

/** Entry point used by `bin/image-factory.js`. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command("image-factory")
    .description("Bootforge: a self-hostable Talos Image Factory")
    .exitOverride();
  program
    .command("serve", { isDefault: true })
    .description("run the factory (default command)")
    .option("--config <file>", "YAML or JSON configuration file (also BOOTFORGE_CONFIG)")
    .option("--listen <host:port>", "listen address (http.listen), default 127.0.0.1:8080")
    .option("--external-url <url>", "URL users reach the factory at (http.externalURL)")
    .option("--storage-dir <dir>", "storage directory (storage.dir)")
    .option("--release-layout <dir>", "serve the release in this OCI layout directory")
    .action(serveCommand);
  const schematic = program.command("schematic").description("schematic helpers");
  schematic
    .command("id [file]")
    .description("print the schematic ID of a YAML/JSON file (stdin when omitted)")
    .action(async (file?: string) => {
      const text = file === undefined || file === "-" ? await readStdin() : await readFile(file);
      process.stdout.write(idOfCanonical(canonicalSchematic(parseSchematic(text))) + "\n");
    });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith("commander.")) {
      process.exitCode = (e as { exitCode?: number }).exitCode ?? 2;
      return;
    }
    process.stderr.write(`image-factory: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = isBootforgeError(e) ? e.exitCode : 1;
  }
}

/**
 * The `image-factory` command line: `serve` (the default) runs the factory; offline helpers:
 *
 *   image-factory schematic id <file|->   print the canonical schematic YAML, then its ID
 *   image-factory oci export|push|tags|digest   crane-like image tools (no daemon)
 *   image-factory verify <image> [flags]  check an image's signatures offline, like cosign verify
 *
 * Errors go to stderr as `image-factory: <message>`; the exit code comes from the error kind
 * (invalid input, too large: 2).
 */

import { readFile } from "node:fs/promises";
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { BootforgeError, exitCodeOf, isBootforgeError } from "../errors/index.js";
import { join } from "node:path";
import { resolveConfig, type ResolvedConfig } from "../factory/config.js";
import { loadConfigSources, parseConfigSources } from "../factory/config-sources.js";
import { batchedLines } from "../factory/log-lines.js";
import { jsonLogger, LOG_LEVELS, parseLogLevel, type LogThreshold } from "../factory/logger.js";
import type { RunningServer } from "../factory/server.js";
import {
  MAX_SCHEMATIC_BYTES,
  canonicalSchematic,
  idOfCanonical,
  parseSchematic,
} from "../schematic/index.js";
import { ociCommand } from "./oci-tools.js";
import { verifyCommand } from "./verify-command.js";

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

interface ServeFlags {
  config: string[];
  logLevel: LogThreshold;
  listen?: string;
  externalUrl?: string;
  storageDir?: string;
  releaseLayout?: string;
  signingKeyPath?: string;
  containerSignaturePublicKey?: string;
}

/**
 * What the demo uses of the fixture builder (`fixtures/index.ts`). Declared here because nothing
 * in src/ imports fixtures/, not even its types; test/architecture checks that the builder has
 * this shape.
 */
export interface DemoReleaseBuilder {
  ensureFixtureRelease(
    log?: (line: string) => void,
  ): Promise<{ dir: string; manifest: { signingIdentity: string; signingIssuer: string } }>;
  TRUSTED_ROOT_FILE: string;
}

/** What the demo release is signed with: its test Sigstore root, identity and issuer. */
interface DemoRelease {
  dir: string;
  trustedRoot: string;
  identity: string;
  issuer: string;
}

/** Builds the demo (fixture) release if needed: its layout directory and how it is signed. */
async function demoRelease(log: (l: string) => void): Promise<DemoRelease> {
  // The fixture builder lives outside src/ (it is test and demo tooling); load it only for the demo.
  const spec = "../../fixtures/index.js";
  const fixtures = (await import(spec)) as DemoReleaseBuilder;
  log("image-factory: preparing the demo release (built on first use; this can take a few minutes)");
  const res = await fixtures.ensureFixtureRelease((l) => log(`  ${l}`));
  return {
    dir: res.dir,
    trustedRoot: join(res.dir, fixtures.TRUSTED_ROOT_FILE),
    identity: res.manifest.signingIdentity,
    issuer: res.manifest.signingIssuer,
  };
}

/** A regexp matching exactly `s`. */
const exactly = (s: string): string => `^${s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`;

/** Configuration: `IF_*`, the `--config` sources in order, `BOOTFORGE_*`, then flags. */
async function loadConfig(flags: ServeFlags, warn: (l: string) => void): Promise<ResolvedConfig> {
  const given = flags.config.length > 0 ? flags.config : [process.env.BOOTFORGE_CONFIG ?? ""].filter(Boolean);
  const loaded = await loadConfigSources(parseConfigSources(given), process.env);
  for (const w of loaded.warnings) warn(`image-factory: warning: configuration key ${w}`);
  const fromFlags: Record<string, unknown> = {};
  const http: Record<string, unknown> = {};
  if (flags.listen !== undefined) http.listen = flags.listen;
  if (flags.externalUrl !== undefined) http.externalURL = flags.externalUrl;
  if (Object.keys(http).length > 0) fromFlags.http = http;
  if (flags.storageDir !== undefined) fromFlags.storage = { dir: flags.storageDir };
  if (flags.releaseLayout !== undefined)
    fromFlags.release = { source: "layout", layout: flags.releaseLayout };
  if (flags.signingKeyPath !== undefined) fromFlags.cache = { signingKeyPath: flags.signingKeyPath };
  if (flags.containerSignaturePublicKey !== undefined)
    fromFlags.containerSignature = { publicKeyFile: flags.containerSignaturePublicKey };
  return resolveConfig(loaded.implied, ...loaded.layers, fromFlags);
}

/**
 * The demo makes its own SecureBoot keys once, in its work directory, so SecureBoot assets and
 * `/secureboot/signing-cert.pem` work out of the box; a configured secureBoot section wins.
 */
async function demoSecureBoot(config: ResolvedConfig, log: (l: string) => void): Promise<ResolvedConfig> {
  const sb = config.secureBoot;
  if (sb.enabled !== undefined || sb.keysDir !== undefined || sb.signingKeyPath !== undefined) return config;
  const keysDir = join(config.storage.dir, "secureboot");
  const { ensureSecureBootKeys } = await import("../imager/secureboot/keys.js");
  if (await ensureSecureBootKeys(keysDir, { commonName: "Bootforge demo SecureBoot signing key" }))
    log(`image-factory: generated the demo's SecureBoot signing key, certificate and PCR key in ${keysDir}`);
  return { ...config, secureBoot: { ...sb, enabled: true, keysDir } };
}

async function serveCommand(flags: ServeFlags): Promise<void> {
  const log = (l: string): void => void process.stderr.write(l + "\n");
  let config = await loadConfig(flags, log);
  if (config.release.source === "demo") config = await demoSecureBoot(config, log);
  if (config.release.source === "demo" && config.release.layout === undefined) {
    const demo = await demoRelease(log);
    config = { ...config, release: { ...config.release, layout: demo.dir } };
    // The demo release is signed keylessly by the fixture's own Sigstore instance: verify it by
    // its identity against its trust root, unless told otherwise.
    const cs = config.containerSignature;
    if (!cs.disabled && cs.publicKeyFile === undefined && cs.trustedRootFile === undefined)
      config = {
        ...config,
        containerSignature: {
          ...cs,
          trustedRootFile: demo.trustedRoot,
          subjectRegExp: exactly(demo.identity),
          issuer: demo.issuer,
        },
      };
  }
  const logger = jsonLogger(
    batchedLines((t) => void process.stdout.write(t)),
    flags.logLevel,
  );
  logger.log("debug", "starting factory", { level: flags.logLevel });
  // The service and its dependencies load here, not for --help or the other subcommands.
  const [{ createFactory }, { listen, listenMetrics }, { ReloadingKeyPair }] = await Promise.all([
    import("../factory/factory.js"),
    import("../factory/server.js"),
    import("../factory/http/reloading-tls.js"),
  ]);
  const factory = await createFactory(config, { logger });
  const { certFile, keyFile } = config.http;
  const tls =
    certFile && keyFile
      ? new ReloadingKeyPair(certFile, keyFile, (msg, fields) => logger.log("warn", msg, fields))
      : undefined;
  const servers: RunningServer[] = [];
  const metricsAddr = config.metrics.addr;
  if (metricsAddr !== undefined && metricsAddr !== "") {
    const m = await listenMetrics(factory.services.metrics, metricsAddr);
    servers.push(m);
    log(`image-factory: serving metrics at ${m.url}/metrics`);
  }
  const server = await listen(factory.app, config.http.listen, tls);
  servers.push(server);
  log(`image-factory: serving at ${server.url} (external URL ${config.http.externalURL})`);
  log(`  try: curl -X POST --data-binary 'customization: {}' ${server.url}/schematics`);
  log(`       curl ${server.url}/versions`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`image-factory: ${signal}, shutting down`);
    void Promise.all(servers.map((s) => s.close())).then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

/** The program: `serve` (default), `schematic`, `oci`. */
export function buildProgram(io: CliIO = defaultIO()): Command {
  const program = new Command("image-factory")
    .description("Bootforge Image Factory: Talos boot assets from schematics")
    .showHelpAfterError()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  program
    .command("serve", { isDefault: true })
    .description("run the factory (default command)")
    .option(
      "--config <sources>",
      "configuration sources, repeatable or comma-separated, later ones overriding: FILE or " +
        "file=FILE (.yaml, .yml, .json, .env), env=PREFIX; env=IF_ always comes first (also BOOTFORGE_CONFIG)",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      "--log-level <level>",
      `log level [${LOG_LEVELS.join(" ")}]`,
      (v: string) => {
        const level = parseLogLevel(v);
        if (level === undefined)
          throw new InvalidArgumentError(
            `unrecognized level: "${v}": must be one of [${LOG_LEVELS.join(" ")}]`,
          );
        return level;
      },
      "info" as LogThreshold,
    )
    .option("--listen <host:port>", "listen address (http.listen), default 127.0.0.1:8080")
    .option("--external-url <url>", "URL users reach the factory at (http.externalURL)")
    .option("--storage-dir <dir>", "storage directory (storage.dir)")
    .option("--release-layout <dir>", "serve the release in this OCI layout directory")
    .option(
      "--signing-key-path <file>",
      "PEM key signing cache entries and installers (cache.signingKeyPath)",
    )
    .option(
      "--container-signature-public-key <file>",
      "PEM public key release images must be signed with (containerSignature.publicKeyFile)",
    )
    .action(serveCommand);
  program.addCommand(schematicCommand(io));
  program.addCommand(ociCommand());
  program.addCommand(verifyCommand(io.stdout));
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

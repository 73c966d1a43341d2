/**
 * Integration harness: a real factory on 127.0.0.1:0 serving the fixture release (an OCI
 * layout; `BOOTFORGE_TEST_RELEASE` points at a prebuilt one, otherwise it is built and cached).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveConfig } from "../../src/factory/config.js";
import { createFactory, type Factory, type FactoryOptions } from "../../src/factory/factory.js";
import { listen, type RunningServer } from "../../src/factory/server.js";

/** The fixture release layout directory. */
export async function fixtureRelease(): Promise<string> {
  const given = process.env.BOOTFORGE_TEST_RELEASE;
  if (given !== undefined && given !== "") return given;
  const { ensureFixtureRelease } = await import("../../fixtures/index.js");
  return (await ensureFixtureRelease()).dir;
}

/** The public key the fixture release is signed with (verified by every test factory by default). */
export async function fixturePublicKey(): Promise<string> {
  const { FIXTURE_PUBLIC_KEY } = await import("../../fixtures/index.js");
  return FIXTURE_PUBLIC_KEY;
}

/** How the fixture release is signed keylessly: `containerSignature` keys to verify it by identity. */
export async function fixtureKeyless(): Promise<{
  trustedRootFile: string;
  subjectRegExp: string;
  issuer: string;
}> {
  const dir = await fixtureRelease();
  const { STAMP_FILE, TRUSTED_ROOT_FILE } = await import("../../fixtures/index.js");
  const manifest = JSON.parse(await readFile(join(dir, STAMP_FILE), "utf8")) as {
    signingIdentity: string;
    signingIssuer: string;
  };
  return {
    trustedRootFile: join(dir, TRUSTED_ROOT_FILE),
    subjectRegExp: `^${manifest.signingIdentity.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`,
    issuer: manifest.signingIssuer,
  };
}

/** A running test factory. */
export interface TestFactory {
  url: string;
  factory: Factory;
  server: RunningServer;
  dir: string;
  stop(): Promise<void>;
}

/** Starts a factory with `overrides` layered over a test configuration. */
export async function startFactory(
  overrides: Record<string, unknown> = {},
  opts: FactoryOptions & { dir?: string } = {},
): Promise<TestFactory> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "bootforge-factory-")));
  const layout = await fixtureRelease();
  const config = resolveConfig(
    {
      http: { listen: "127.0.0.1:0" },
      storage: { dir },
      release: { source: "layout", layout },
      // Verified keylessly by identity, as a real release is.
      containerSignature: await fixtureKeyless(),
    },
    overrides,
  );
  const factory = await createFactory(config, opts);
  const server = await listen(factory.app, "127.0.0.1:0");
  // External URLs must name the bound port for PXE scripts to be correct.
  const url = server.url;
  factory.services.config.http.externalURL = `${url}/`;
  factory.services.config.http.externalPXEURL = `${url}/`;
  return {
    url,
    factory,
    server,
    dir,
    stop: async () => {
      await server.close(1000);
      if (opts.dir === undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The empty schematic's ID. */
export const EMPTY_ID = "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

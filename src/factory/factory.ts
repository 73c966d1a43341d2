/**
 * Wires a factory from resolved configuration: storage backend, release source, schematic
 * service, asset builder (queue, single flight, timeout), embedded installer registry, routes
 * and the UI. Pure wiring: no listening socket (see `server.ts`).
 */
import { mkdir, readFile, rm, symlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { KEY_FILES } from "../imager/secureboot/keys.js";
import {
  defaultKeychain,
  multiKeychain,
  staticKeychain,
  type Credential,
  type Keychain,
} from "../oci/credentials.js";
import { BootforgeError } from "../errors/index.js";
import { RegistryClient } from "../oci/client.js";
import {
  KeylessVerifier,
  SIDERO_ISSUER,
  SIDERO_SUBJECT_REGEXP,
  loadPublicKey,
  loadSigningKey,
  loadTrustedRoot,
  type SigningKey,
} from "../oci/cosign/index.js";
import { repoWithNamespace } from "../release/catalogs.js";
import type { ReleaseLocation } from "../release/release-location.js";
import {
  AnySourceVerifier,
  KeylessSourceVerifier,
  KeySourceVerifier,
  type SourceVerifier,
} from "../release/source-verifier.js";
import { TalosReleases } from "../release/talos-releases.js";
import { createApp, type FactoryApp, type RouteModule } from "./app.js";
import { AssetSigner } from "./assets/asset-signature.js";
import { AssetBuilder, type AssetPipeline } from "./assets/asset-builder.js";
import { ImagerPipeline } from "./assets/imager-pipeline.js";
import { BuildQueue } from "./build-queue.js";
import type { ResolvedConfig } from "./config.js";
import { silentLogger, type Logger } from "./logger.js";
import { FactoryMetrics } from "./metrics.js";
import { InstallerRegistry } from "./registry/installer-registry.js";
import { accessLog } from "./routes/access-log.js";
import { onBound } from "./server.js";
import { imageRoutes } from "./routes/image.js";
import { metaRoutes } from "./routes/meta.js";
import { pxeRoutes } from "./routes/pxe.js";
import { registryRoutes } from "./routes/registry.js";
import { cosignRoutes } from "./routes/cosign.js";
import { schematicRoutes } from "./routes/schematics.js";
import { metricsRoutes, secureBootRoutes } from "./routes/secureboot.js";
import { talosctlRoutes } from "./routes/talosctl.js";
import { SchematicService } from "./schematic-service.js";
import type { FactoryServices } from "./services.js";
import { LocalStore } from "./storage/local-store.js";
import { RegistryStore } from "./storage/registry-store.js";
import type { AssetStore, SchematicStore } from "./storage/types.js";
import { uiRoutes } from "./ui/index.js";
import { uiBackend } from "./ui-backend.js";

/** The factory's own version, shown in the Server header. */
export const SERVER_VERSION = "v0.1.0";

/** Extra wiring a caller may supply (tests, the CLI). */
export interface FactoryOptions {
  logger?: Logger;
  /** The asset pipeline (default: the imager pipeline, `ImagerPipeline`). */
  pipeline?: AssetPipeline;
  /** Registry client for registry storage and registry release sources. */
  registryClient?: RegistryClient;
}

/** A wired factory. */
export interface Factory {
  app: FactoryApp;
  services: FactoryServices;
  queue: BuildQueue;
}

/** The cache signing key (`cache.signingKeyPath`), if configured. */
async function cacheSigningKey(config: ResolvedConfig): Promise<SigningKey | undefined> {
  const path = config.cache.signingKeyPath;
  return path === undefined || path === "" ? undefined : loadSigningKey(path);
}

/**
 * The release image verifier (`containerSignature`), as upstream: keyless by default (Sidero's
 * release identity and issuer), then the public key if one is configured; one is enough. Unlike
 * upstream the keyless trust root never comes from the network: the public-good root shipped
 * with sigstore-js, or `trustedRootFile`.
 */
async function sourceVerifier(config: ResolvedConfig): Promise<SourceVerifier | undefined> {
  const c = config.containerSignature;
  if (c.disabled) return undefined;
  const keyless = new KeylessVerifier(await loadTrustedRoot(c.trustedRootFile), {
    subjectRegExp: c.subjectRegExp || SIDERO_SUBJECT_REGEXP,
    ...(c.issuerRegExp ? { issuerRegExp: c.issuerRegExp } : { issuer: c.issuer || SIDERO_ISSUER }),
  });
  const verifiers: SourceVerifier[] = [new KeylessSourceVerifier(keyless)];
  if (c.publicKeyFile !== undefined && c.publicKeyFile !== "")
    verifiers.push(new KeySourceVerifier([await loadPublicKey(c.publicKeyFile, c.publicKeyHashAlgo)]));
  return verifiers.length === 1 ? verifiers[0] : new AnySourceVerifier(verifiers);
}

async function openStores(
  config: ResolvedConfig,
  client: () => RegistryClient,
  signingKey: SigningKey | undefined,
): Promise<{ assets: AssetStore; schematics: SchematicStore; local: LocalStore }> {
  const local = await LocalStore.open(join(config.storage.dir, "store"));
  if (config.storage.kind === "dir") return { assets: local, schematics: local.schematics(), local };
  const registry = config.storage.registry;
  if (registry === undefined || registry === "") {
    throw new BootforgeError(
      "invalid-input",
      "configuration storage.registry is required when storage.kind is registry",
    );
  }
  const store = new RegistryStore({
    client: client(),
    registry,
    namespace: config.storage.namespace,
    scratch: local,
    ...(signingKey ? { signingKey } : {}),
  });
  return { assets: store, schematics: store.schematicStore(), local };
}

/** The configured release location (upstream's `<registry>/<namespace>/siderolabs/*`, or a layout). */
function releaseLocation(config: ResolvedConfig): ReleaseLocation {
  if (config.release.source === "registry") {
    return {
      kind: "registry",
      registry: config.release.registry,
      namespace: repoWithNamespace("", config.release.namespace, "siderolabs"),
      ...(config.release.insecure ? { insecure: true } : {}),
    };
  }
  const dir = config.release.layout;
  if (dir === undefined) {
    throw new BootforgeError(
      "invalid-input",
      "configuration release.layout is required for a layout (or demo) release source",
    );
  }
  return { kind: "oci-layout", dir };
}

/**
 * Credentials named in the configuration for the release and storage registries, in front of
 * the imager's usual sources (docker/podman config, GITHUB_TOKEN).
 */
async function configuredKeychain(config: ResolvedConfig): Promise<Keychain> {
  const map: Record<string, Credential> = {};
  const add = async (
    section: "release" | "storage",
    registry: string | undefined,
    c: { username?: string | undefined; password?: string | undefined; passwordFile?: string | undefined },
  ): Promise<void> => {
    if (registry === undefined || c.username === undefined) return;
    let password = c.password;
    if (password === undefined && c.passwordFile !== undefined) {
      const text = await readFile(c.passwordFile, "utf8").catch((e: unknown) => {
        throw new BootforgeError(
          "invalid-input",
          `configuration ${section}.passwordFile: cannot read ${c.passwordFile}: ${e instanceof Error ? e.message : String(e)}`,
        );
      });
      password = text.split(/\r?\n/)[0] ?? "";
    }
    map[registry] = { username: c.username, password: password ?? "" };
  };
  await add(
    "release",
    config.release.source === "registry" ? config.release.registry : undefined,
    config.release,
  );
  await add(
    "storage",
    config.storage.kind === "registry" ? config.storage.registry : undefined,
    config.storage,
  );
  return multiKeychain(staticKeychain(map), defaultKeychain());
}

/**
 * The SecureBoot keys directory: `secureBoot.keysDir`, or one made of links with upstream's
 * file names to upstream's `secureBoot.file.*` paths.
 */
async function secureBootKeysDir(config: ResolvedConfig): Promise<string | undefined> {
  const sb = config.secureBoot;
  if (!sb.signingKeyPath || !sb.signingCertPath || !sb.pcrKeyPath) return sb.keysDir;
  const dir = join(config.storage.dir, "secureboot-files");
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await symlink(resolve(sb.signingKeyPath), join(dir, KEY_FILES.ukiSigningKey));
  await symlink(resolve(sb.signingCertPath), join(dir, KEY_FILES.ukiSigningCert));
  await symlink(resolve(sb.pcrKeyPath), join(dir, KEY_FILES.pcrSigningKey));
  return dir;
}

/** Builds the factory from configuration. */
export async function createFactory(config: ResolvedConfig, opts: FactoryOptions = {}): Promise<Factory> {
  const logger = opts.logger ?? silentLogger;
  let client = opts.registryClient;
  const credentials = await configuredKeychain(config);
  const getClient = (): RegistryClient => {
    const insecureHosts = [
      ...(config.storage.insecure && config.storage.registry ? [config.storage.registry] : []),
      ...(config.release.insecure ? [config.release.registry] : []),
    ];
    client ??= new RegistryClient({ insecure: insecureHosts, keychain: credentials });
    return client;
  };
  const signingKey = await cacheSigningKey(config);
  const verifier = await sourceVerifier(config);
  const stores = await openStores(config, getClient, signingKey);
  const metrics = new FactoryMetrics();

  const release = new TalosReleases({
    location: releaseLocation(config),
    policy: {
      minTalosVersion: config.build.minTalosVersion,
      brokenTalosVersions: config.build.brokenTalosVersions,
    },
    catalog: { registry: config.release.registry, namespace: config.release.namespace },
    ...(config.release.source === "registry" ? { registryClient: getClient() } : {}),
    cacheDir: join(config.storage.dir, "release"),
    ...(verifier ? { verifier } : {}),
  });

  const queue = new BuildQueue({
    concurrency: config.build.maxConcurrency,
    maxWaiting: config.build.maxQueue,
    retryAfterSeconds: config.build.retryAfterSeconds,
  });
  metrics.gauge("bootforge_build_queue_depth", "Builds waiting for a slot.", () => queue.pending);
  metrics.gauge("bootforge_builds_running", "Builds running now.", () => queue.active);
  metrics.gauge(
    "bootforge_build_slots",
    "Builds that may run at once (build.maxConcurrency).",
    () => config.build.maxConcurrency,
  );

  let secureBootCertPem: string | undefined;
  const keysDir = await secureBootKeysDir(config);
  if (config.secureBoot.enabled === true) {
    const dir = keysDir;
    if (dir === undefined)
      throw new BootforgeError(
        "invalid-input",
        "configuration secureBoot.keysDir (or secureBoot.file.signingKeyPath, signingCertPath and pcrKeyPath) is required when SecureBoot is enabled",
      );
    secureBootCertPem = await readFile(join(dir, KEY_FILES.ukiSigningCert), "utf8").catch((e: unknown) => {
      throw new BootforgeError(
        "invalid-input",
        `cannot read the SecureBoot signing certificate in ${dir}: ${(e as Error).message}`,
      );
    });
  }

  // Scratch space is emptied at start: a crashed build leaves nothing that could be served.
  const scratch = join(config.storage.dir, "scratch");
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  const pipeline =
    opts.pipeline ??
    (await ImagerPipeline.create({
      scratchDir: join(scratch, "builds"),
      keysDir,
      logger,
    }));
  const assets = new AssetBuilder({
    store: stores.assets,
    release,
    queue,
    metrics,
    timeoutMs: config.build.timeoutSeconds * 1000,
    externalURL: () => config.http.externalURL,
    secureBootEnabled: config.secureBoot.enabled === true,
    pipeline,
  });
  let n = 0;
  const installers = await InstallerRegistry.open(
    join(config.storage.dir, "registry"),
    assets,
    (hint) => {
      const path = join(scratch, `${hint}-${process.pid}-${n++}.tar`);
      return Promise.resolve({ path, done: () => rm(path, { force: true }) });
    },
    signingKey && {
      key: signingKey,
      // Signatures name the repository as clients pull it: through this factory's host.
      identity: (repo) => `${new URL(config.http.externalURL).host}/${repo}`,
    },
  );

  const services: FactoryServices = {
    config,
    schematics: new SchematicService(stores.schematics, metrics),
    release,
    assets,
    installers,
    metrics,
    secureBootCertPem,
    cosignPublicKeyPem: signingKey?.publicKeyPem,
    assetSigner:
      signingKey && config.cache.signingKeyPath
        ? new AssetSigner(config.cache.signingKeyPath, signingKey.publicKeyPem)
        : undefined,
  };
  const modules: RouteModule[] = [
    accessLog(logger, metrics),
    schematicRoutes(services),
    imageRoutes(services),
    pxeRoutes(services),
    metaRoutes(services),
    secureBootRoutes(services),
    // With metrics.addr set, /metrics lives on that listener alone (upstream has none on the main port).
    ...(config.metrics.addr === undefined ? [metricsRoutes(services)] : []),
    registryRoutes(services),
    cosignRoutes(services),
    talosctlRoutes(services),
    uiRoutes(uiBackend(services, SERVER_VERSION)),
  ];
  const app = createApp(
    {
      serverVersion: SERVER_VERSION,
      allowedOrigins: config.http.allowedOrigins,
      ready: async () =>
        await release.versions().then(
          () => true,
          () => false,
        ),
      log: (e) =>
        logger.log("error", "request failed", { error: e instanceof Error ? e.message : String(e) }),
    },
    modules,
  );
  // With port 0 the derived external URLs name port 0; once bound they name the real port.
  onBound(app, (url) => {
    const derivedFromPortZero = (u: string) => /^http:\/\/[^/]+:0\/$/.test(u);
    if (derivedFromPortZero(config.http.externalURL)) config.http.externalURL = `${url}/`;
    if (derivedFromPortZero(config.http.externalPXEURL)) config.http.externalPXEURL = `${url}/`;
  });
  return { app, services, queue };
}

/**
 * The initramfs rebuild with system extensions (upstream `extensions.Builder.Build`): each
 * extension becomes a squashfs layer, microcode goes into an uncompressed early cpio in front,
 * firmware into the initramfs, kernel modules get a combined `modules.dep` layer, and
 * `[early cpio] + [base initramfs] + [stored cpio of the *.sqsh layers] + [compressed cpio of
 * firmware and extensions.yaml]` is written out. The caller's extension directories and base
 * initramfs are only read.
 *
 * Upstream compresses the squashfs layers a second time inside one compressed cpio: squashfs
 * images are already zstd- (or xz-) compressed, so that costs most of the rebuild's CPU for a
 * fraction of a percent of size. They go into an archive of their own, wrapped in a stored
 * (uncompressed) zstd frame or xz stream, which the kernel unpacks like any other part of a
 * concatenated initramfs and which keeps the file decodable by `zstd -d` / `xz -d` as before.
 */
import { createReadStream, createWriteStream, type WriteStream } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BootforgeError, invalidInput, ioError } from "../../errors/index.js";
import type { Quirks } from "../../profile/quirks.js";
import { checkCompatibility, loadExtension } from "../../release/extensions/manifest.js";
import type { ExtensionManifest } from "../../release/extensions/manifest.js";
import { xzStoredStream, zstdStoredFrame } from "../../formats/stored-stream.js";
import { cpioChunks, entriesFromListing, walkTree } from "./cpio-file.js";
import { toolsLimited } from "../tools/concurrency.js";
import { transform } from "../tools/transform.js";
import { stageEarlyFiles } from "./early-files.js";
import { extensionsYaml, type ExtensionLayer } from "./extensions-yaml.js";
import { buildModulesDepExtension, providesKernelModules, type BaseModules } from "./kernel-modules.js";
import { makeSquashfs, type XattrLabels } from "./squashfs.js";

/** An extracted extension image: a directory holding `manifest.yaml` and `rootfs/`. */
export interface ExtensionInput {
  dir: string;
  /** SELinux labels recorded while extracting (PAX `SCHILY.xattr.security.selinux`), by path relative to `rootfs`. */
  labels?: XattrLabels;
}

export interface RebuildInitramfsOptions {
  /** The release's initramfs (`/usr/install/<arch>/initramfs.xz`: a zstd or xz cpio of `init` + `rootfs.sqsh`). */
  baseInitramfs: string;
  arch: "amd64" | "arm64";
  quirks: Quirks;
  /** Extensions in profile order (virtual ones last, as upstream appends them). */
  extensions: readonly ExtensionInput[];
  /** Scratch directory for this build (created if missing; its contents are replaced). */
  workDir: string;
  /** Output file; default `<workDir>/initramfs.xz`. */
  output?: string;
  /** SOURCE_DATE_EPOCH: every timestamp in the layers and the cpio archives. */
  sourceDateEpoch: number;
  /** Progress lines (upstream's `Printf`). */
  log?: (line: string) => void;
  /**
   * The base initramfs's kernel modules, extracted ahead by the caller (outside `workDir`) once
   * it knew an extension ships modules; used when one does.
   */
  baseModules?: Promise<BaseModules | undefined>;
  signal?: AbortSignal;
}

export interface RebuildResult {
  /** The initramfs to use: `output`, or the base initramfs itself when there are no extensions. */
  path: string;
  /** Layers in `extensions.yaml` order. */
  layers: ExtensionLayer[];
  /** Whether an uncompressed microcode cpio was put in front. */
  earlyMicrocode: boolean;
}

interface Layer {
  name: string;
  rootfs: string;
  manifest: ExtensionManifest;
  labels: XattrLabels | undefined;
}

/** Rebuilds the initramfs with the given extensions, reproducibly. */
export async function rebuildInitramfs(options: RebuildInitramfsOptions): Promise<RebuildResult> {
  const { quirks, workDir } = options;
  const log = options.log ?? ((): void => {});
  if (options.extensions.length === 0) {
    log("skipped initramfs rebuild (no system extensions)");
    return { path: options.baseInitramfs, layers: [], earlyMicrocode: false };
  }
  try {
    await rm(workDir, { recursive: true, force: true });
    await mkdir(workDir, { recursive: true });

    // Upstream checks extensions out as <tmp>/extensions/<index> and lists that directory sorted
    // as strings, so with 11 or more the layer order is 0, 1, 10, 11, 2, … [quirk kept].
    const named = options.extensions.map((e, i) => ({ ...e, name: String(i) }));
    named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

    // Loaded side by side; the first failure in layer order is the one reported.
    const loads = await Promise.allSettled(named.map((e) => loadExtension(e.dir)));
    const layers: Layer[] = named.map((e, i) => {
      const r = loads[i]!;
      if (r.status === "rejected") throw rewrap(r.reason, `error loading extension ${e.name}`);
      return { name: e.name, rootfs: r.value.rootfs, manifest: r.value.manifest, labels: e.labels };
    });
    log("validating system extensions");
    for (const l of layers) {
      if (quirks.version === undefined) continue;
      try {
        checkCompatibility(l.manifest, quirks.version);
      } catch (err) {
        throw rewrap(err, `error validating extension ${JSON.stringify(l.manifest.metadata.name)}`);
      }
    }

    const provides = await Promise.allSettled(
      layers.map((l) => providesKernelModules(l.rootfs, quirks, l.manifest.metadata.name)),
    );
    const moduleSources: { rootfs: string; name: string }[] = [];
    layers.forEach((l, i) => {
      const r = provides[i]!;
      if (r.status === "rejected") throw r.reason;
      if (r.value) moduleSources.push({ rootfs: l.rootfs, name: l.manifest.metadata.name });
    });
    // The modules.dep layer (zstd, unsquashfs, depmod) only reads the extension trees: it runs
    // while the extension layers are compressed, and its own layer is compressed last.
    let depLayer: Promise<Layer | undefined> = Promise.resolve(undefined);
    if (moduleSources.length > 0) {
      log("preparing to run depmod to generate kernel modules dependency tree");
      depLayer = buildModulesDepExtension({
        baseInitramfs: options.baseInitramfs,
        sources: moduleSources,
        quirks,
        workDir: join(workDir, "ext-modules"),
        ...(options.baseModules ? { base: options.baseModules } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      }).then((dep) => ({
        name: "modules.dep",
        rootfs: dep.rootfs,
        manifest: dep.manifest,
        labels: undefined,
      }));
      // Awaited after the extension layers; a failure before then must not count as unhandled.
      depLayer.catch(() => undefined);
    }

    const staging = join(workDir, "ext");
    await mkdir(staging);
    await chmod(staging, 0o755);
    log("compressing system extensions");
    // Early files are staged strictly in layer order (microcode is appended, firmware conflicts
    // are detected against earlier layers); each layer's mksquashfs starts once its files are
    // staged and runs alongside the next ones (independent outputs, same bytes).
    const squashes: Promise<void>[] = [];
    const out: ExtensionLayer[] = [];
    const compress = async (l: Layer, background: boolean, generated = false): Promise<void> => {
      // The generated modules.dep layer holds modules.* index files only: nothing to stage.
      const exclude = generated
        ? []
        : await stageEarlyFiles(l.rootfs, staging, quirks, l.manifest.metadata.name);
      const image = `${l.name}.sqsh`;
      const done = makeSquashfs({
        // While the modules.dep chain runs, it is the critical path: the layers yield to it.
        background,
        source: l.rootfs,
        output: join(staging, image),
        quirks,
        epoch: options.sourceDateEpoch,
        exclude,
        excludeListPath: join(workDir, `${l.name}.exclude`),
        ...(l.labels ? { labels: l.labels } : {}),
        warn: log,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      // Awaited below with the others; until then a failure must not count as unhandled.
      done.catch(() => undefined);
      squashes.push(done);
      out.push({ image, metadata: l.manifest.metadata });
    };
    let failure: { error: unknown } | undefined;
    const output = options.output ?? join(workDir, "initramfs.xz");
    let head: Promise<InitramfsHead> | undefined;
    let compressor: Compressor | undefined;
    let listed: Promise<void> | undefined;
    try {
      for (const l of layers) await compress(l, moduleSources.length > 0);
      const dep = await depLayer;
      if (dep !== undefined) {
        layers.push(dep);
        await compress(dep, false, true);
      }
      // Every layer is known: the list is written while the last images are made.
      listed = writeFile(join(staging, "extensions.yaml"), extensionsYaml(out)).then(() =>
        chmod(join(staging, "extensions.yaml"), 0o644),
      );
      listed.catch(() => undefined);
      // Every layer's early files are staged: the uncompressed part of the output (early cpio,
      // base initramfs) is written while the last squashfs images are still being made.
      head = writeHead(options, staging, output);
      head.catch(() => undefined);
      // Started now, idle until fed: its start-up is off the path that follows the last layer.
      // Not when tools are limited: it would hold a slot while it waits.
      if (!toolsLimited()) compressor = startCompressor(options);
    } catch (error) {
      failure = { error };
    }
    // Never leave a tool writing into the work directory: wait for every started one.
    await depLayer.catch(() => undefined);
    const settled = await Promise.allSettled(squashes);
    const written = head === undefined ? undefined : await settle(head);
    const yaml = listed === undefined ? undefined : await settle(listed);
    try {
      if (failure !== undefined) throw failure.error;
      // The first failure in layer order, as the sequential build reported it.
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed !== undefined) throw failed.reason;
      if (written === undefined || "error" in written) throw written?.error;
      if (yaml !== undefined && "error" in yaml) throw yaml.error;
      compressor ??= startCompressor(options);
      await writeTail(options, staging, written.value, compressor);
      return { path: output, layers: out, earlyMicrocode: written.value.early };
    } catch (e) {
      // The output stays in the work directory, which goes; its descriptor is closed now.
      if (written !== undefined && "value" in written) written.value.ws.destroy();
      if (compressor !== undefined) await stopCompressor(compressor);
      throw e;
    }
  } catch (err) {
    if (err instanceof BootforgeError) throw err;
    throw ioError(`initramfs rebuild: ${(err as Error).message}`, { cause: err });
  }
}

function rewrap(err: unknown, context: string): BootforgeError {
  if (err instanceof BootforgeError)
    return new BootforgeError(err.kind, `${context}: ${err.message}`, { cause: err });
  return invalidInput(`${context}: ${(err as Error).message}`, { cause: err });
}

async function write(ws: WriteStream, chunks: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of chunks) {
    if (!ws.write(chunk)) await new Promise<void>((resolve) => ws.once("drain", resolve));
  }
}

/** The output with its uncompressed part written: the stream to append to, and whether an early cpio leads it. */
interface InitramfsHead {
  ws: WriteStream;
  early: boolean;
}

async function settle<T>(p: Promise<T>): Promise<{ value: T } | { error: unknown }> {
  try {
    return { value: await p };
  } catch (error) {
    return { error };
  }
}

const isEarly = (p: string): boolean => p === "kernel" || p.startsWith("kernel/");
/** A squashfs layer: top-level `<name>.sqsh`, already compressed, stored as is. */
const isLayerImage = (p: string): boolean => !p.includes("/") && p.endsWith(".sqsh");

/** Rejects with the stream's first error (never settles otherwise); never unhandled. */
function streamError(ws: WriteStream): Promise<never> {
  const failed = new Promise<never>((_, reject) => ws.once("error", reject));
  failed.catch(() => undefined);
  return failed;
}

/** Opens `output` and writes `[uncompressed kernel/ cpio] + [base initramfs]`. */
async function writeHead(
  options: RebuildInitramfsOptions,
  staging: string,
  output: string,
): Promise<InitramfsHead> {
  const early = (await walkTree(staging)).filter(isEarly);
  const ws = createWriteStream(output, { mode: 0o644 });
  const failed = streamError(ws);
  const work = (async (): Promise<void> => {
    if (early.length > 0) {
      await write(ws, cpioChunks(entriesFromListing(staging, early), { mtime: options.sourceDateEpoch }));
    }
    await write(ws, createReadStream(options.baseInitramfs) as AsyncIterable<Buffer>);
  })();
  try {
    await Promise.race([work, failed]);
  } catch (e) {
    ws.destroy();
    throw e;
  }
  return { ws, early: early.length > 0 };
}

/** The compressor of the output's last part: a running tool fed through `input`, writing to `output`. */
interface Compressor {
  input: PassThrough;
  output: PassThrough;
  done: Promise<void>;
}

function startCompressor(options: RebuildInitramfsOptions): Compressor {
  const input = new PassThrough();
  const output = new PassThrough();
  const done = options.quirks.useZSTDCompression
    ? transform("zstd", ["-T0", "-18", "-c", "--quiet"], input, output, signalOpt(options))
    : transform(
        "xz",
        ["-v", "-C", "crc32", "-0", "-e", "-T", "0", "-z", "--quiet"],
        input,
        output,
        signalOpt(options),
      );
  done.catch(() => undefined);
  return { input, output, done };
}

/** Ends an unused (or failed) compressor: no input, output dropped, the tool waited for. */
async function stopCompressor(c: Compressor): Promise<void> {
  c.output.resume();
  c.input.end();
  await c.done.catch(() => undefined);
}

/**
 * Appends the stored cpio of the squashfs layers, then the compressed cpio of everything else staged
 * but `kernel/` (firmware, extensions.yaml), and ends the output.
 */
async function writeTail(
  options: RebuildInitramfsOptions,
  staging: string,
  head: InitramfsHead,
  compressor: Compressor,
): Promise<void> {
  const { ws } = head;
  const rest = (await walkTree(staging)).filter((p) => !isEarly(p));
  const stored = rest.filter(isLayerImage);
  const packed = rest.filter((p) => !isLayerImage(p));
  const failed = streamError(ws);
  // Reported here, after every layer, where upstream (which writes the parts in turn) prints them.
  if (head.early) options.log?.("creating uncompressed initramfs archive");
  options.log?.("creating system extensions initramfs archive and compressing it");
  if (stored.length > 0) {
    // Wrapped, not compressed: a stored zstd frame or xz stream keeps the file valid in its format
    // and costs a copy. The kernel decodes each frame or stream on its own, so the layers are a
    // complete archive of their own.
    const archive = cpioChunks(entriesFromListing(staging, stored), { mtime: options.sourceDateEpoch });
    const plain = write(
      ws,
      options.quirks.useZSTDCompression ? zstdStoredFrame(archive) : xzStoredStream(archive),
    );
    plain.catch(() => undefined);
    await Promise.race([plain, failed]);
  }
  const archive = Readable.from(
    cpioChunks(entriesFromListing(staging, packed), { mtime: options.sourceDateEpoch }),
  );
  const work = Promise.all([
    pipeline(archive, compressor.input),
    pipeline(compressor.output, ws),
    compressor.done,
  ]);
  work.catch(() => undefined);
  await Promise.race([work, failed]);
}

function signalOpt(options: RebuildInitramfsOptions): { signal?: AbortSignal; timeoutMs: number } {
  return { timeoutMs: 30 * 60 * 1000, ...(options.signal ? { signal: options.signal } : {}) };
}

/**
 * A factory in its own process, so tests can SIGKILL it, run it on a size-limited file system and
 * measure its memory apart from the client. With `--pipeline imager` it builds with the real
 * imager pipeline (tools, scratch space, the layer cache, the installer registry), optionally with
 * SecureBoot keys (`--secureboot-keys`). With `--pipeline slow-uki` (the default, for the
 * benchmarks that measure delivery alone) the pipeline is a stand-in that writes a deterministic
 * UKI of `--uki-mib` MiB slowly (`--chunk-ms` between 1 MiB chunks); every build start and finish
 * of the stand-in is appended to `--journal`.
 *
 *   node --import tsx test/reliability/child-factory.ts --storage <dir> --release <layout> \
 *     [--pipeline slow-uki|imager] [--secureboot-keys <dir>] \
 *     [--uki-mib 8] [--chunk-ms 100] [--journal <file>] [--log <file>]
 *
 * `--log` appends the JSON request log there as `image-factory serve` writes it to stdout
 * (default: no log). Prints `READY <url>` on stdout once listening; exits on SIGTERM.
 */
import { appendFileSync, createWriteStream, openSync, writeSync } from "node:fs";
import { once } from "node:events";
import { parseArgs } from "node:util";
import type { AssetPipeline, PipelineInput } from "../../src/factory/assets/asset-builder.js";
import { FIXTURE_PUBLIC_KEY } from "../../fixtures/index.js";
import { resolveConfig } from "../../src/factory/config.js";
import { createFactory } from "../../src/factory/factory.js";
import { batchedLines } from "../../src/factory/log-lines.js";
import { jsonLogger } from "../../src/factory/logger.js";
import { listen } from "../../src/factory/server.js";
import type { OutputKind } from "../../src/profile/index.js";
import { ukiChunk, ukiSeed } from "./slow-uki.js";

class SlowUkiPipeline implements AssetPipeline {
  constructor(
    readonly mib: number,
    readonly chunkMs: number,
    readonly journal: string | undefined,
  ) {}

  supports(kind: OutputKind): boolean {
    return kind === "uki";
  }

  async build(input: PipelineInput, outPath: string): Promise<void> {
    const seed = ukiSeed(input);
    const note = (what: string) => {
      if (this.journal) appendFileSync(this.journal, `${process.pid} ${what} ${seed}\n`);
    };
    note("start");
    const out = createWriteStream(outPath);
    const failed = new Promise<never>((_, reject) => out.once("error", reject));
    failed.catch(() => undefined);
    for (let i = 0; i < this.mib; i++) {
      if (!out.write(ukiChunk(seed, i))) await Promise.race([once(out, "drain"), failed]);
      if (this.chunkMs > 0) await Promise.race([new Promise((r) => setTimeout(r, this.chunkMs)), failed]);
    }
    out.end();
    await Promise.race([once(out, "finish"), failed]);
    note("done");
  }
}

const { values } = parseArgs({
  options: {
    storage: { type: "string" },
    release: { type: "string" },
    pipeline: { type: "string", default: "slow-uki" },
    "secureboot-keys": { type: "string" },
    "uki-mib": { type: "string", default: "8" },
    "chunk-ms": { type: "string", default: "100" },
    journal: { type: "string" },
    log: { type: "string" },
  },
});
if (values.storage === undefined || values.release === undefined) {
  process.stderr.write("child-factory: --storage and --release are required\n");
  process.exit(2);
}
const config = resolveConfig({
  // A fixed external URL: it is part of every asset (the `schematic` extension names it), so a
  // restarted factory on another port must still find the assets it cached before.
  http: { listen: "127.0.0.1:0", externalURL: "http://factory.bootforge.test/" },
  storage: { dir: values.storage },
  release: { source: "layout", layout: values.release },
  containerSignature: { publicKeyFile: FIXTURE_PUBLIC_KEY },
  build: { maxConcurrency: 2, maxQueue: 64 },
  ...(values["secureboot-keys"] === undefined
    ? {}
    : { secureBoot: { enabled: true, keysDir: values["secureboot-keys"] } }),
});
if (values.pipeline !== "slow-uki" && values.pipeline !== "imager") {
  process.stderr.write(`child-factory: --pipeline must be slow-uki or imager, not ${values.pipeline}\n`);
  process.exit(2);
}
// Without a pipeline option the factory wires its own: the real imager pipeline.
const pipeline =
  values.pipeline === "imager"
    ? undefined
    : new SlowUkiPipeline(Number(values["uki-mib"]), Number(values["chunk-ms"]), values.journal);
const logFd = values.log === undefined ? undefined : openSync(values.log, "a");
const factory = await createFactory(config, {
  ...(pipeline === undefined ? {} : { pipeline }),
  ...(logFd === undefined ? {} : { logger: jsonLogger(batchedLines((t) => writeSync(logFd, t))) }),
});
const server = await listen(factory.app, "127.0.0.1:0");
process.stdout.write(`READY ${server.url}\n`);
process.once("SIGTERM", () => void server.close(1000).then(() => process.exit(0)));

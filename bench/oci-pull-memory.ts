/**
 * Bench: push then pull a large single-layer image through a real registry and report the peak
 * resident memory. Prints one line; the acceptance bar is a 500 MiB image under 150 MiB RSS.
 * Run: node --import tsx bench/oci-pull-memory.ts  (BENCH_OCI_MIB=500 by default)
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { RegistryClient } from "../src/oci/client.js";
import { anonymousKeychain } from "../src/oci/credentials.js";
import { copyImage } from "../src/oci/image.js";
import { assembleImage, writeImage } from "../src/oci/image-builder.js";
import { OciLayout } from "../src/oci/layout.js";
import { MediaTypes } from "../src/oci/media-types.js";
import { parseReference } from "../src/oci/reference.js";
import { RegistrySink, RegistrySource } from "../src/oci/source.js";
import { startRegistry } from "../src/oci/testing/registry.js";

const mib = Number(process.env.BENCH_OCI_MIB ?? "500");

// Child mode: only the pull runs here, so the peak RSS measures pulling, not generating the data.
if (process.argv[2] === "--pull") {
  const [host, dir] = process.argv.slice(3);
  const client = new RegistryClient({ insecure: true, keychain: anonymousKeychain });
  const layout = await OciLayout.create(dir ?? "");
  const t = Date.now();
  await copyImage(new RegistrySource(client, parseReference(`${host ?? ""}/bench/big`)), "v1", layout, {
    tag: "v1",
  });
  console.log(
    JSON.stringify({ seconds: (Date.now() - t) / 1000, rssMiB: process.resourceUsage().maxRSS / 1024 }),
  );
  process.exit(0);
}

const run = promisify(execFile);
const work = await mkdtemp(join(tmpdir(), "bootforge-bench-"));
const reg = await startRegistry("none");
try {
  // Incompressible data, generated in 1 MiB pieces so the generator itself stays small.
  const layerPath = join(work, "layer");
  const hash = createHash("sha256");
  function* random(): Generator<Buffer> {
    for (let i = 0; i < mib; i++) {
      const b = randomBytes(1 << 20);
      hash.update(b);
      yield b;
    }
  }
  await pipeline(Readable.from(random()), createWriteStream(layerPath));
  const digest = `sha256:${hash.digest("hex")}`;
  const layer = {
    path: layerPath,
    diffId: digest,
    descriptor: { mediaType: MediaTypes.ociLayer, digest, size: mib << 20 },
  };
  const image = assembleImage({ layers: [layer], platform: { os: "linux", architecture: "amd64" } });
  const client = new RegistryClient({ insecure: true, keychain: anonymousKeychain });
  const repo = parseReference(`${reg.host}/bench/big`);
  const t0 = Date.now();
  await writeImage(new RegistrySink(client, repo), image, { tag: "v1" });
  const t1 = Date.now();
  const { stdout } = await run(process.execPath, [
    "--import",
    "tsx",
    fileURLToPath(import.meta.url),
    "--pull",
    reg.host,
    join(work, "layout"),
  ]);
  const pulled = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { seconds: number; rssMiB: number };
  const layout = await OciLayout.open(join(work, "layout"));
  // The pulled layer must read back intact through the verifying reader.
  for await (const _ of await layout.blob(layer.descriptor)) void _;
  const rss = pulled.rssMiB;
  console.log(
    `oci-pull-memory: ${mib} MiB image, push ${((t1 - t0) / 1000).toFixed(1)} s, pull ${pulled.seconds.toFixed(1)} s, ` +
      `peak RSS ${rss.toFixed(0)} MiB (limit 150), ratio ${(rss / 150).toFixed(2)}`,
  );
  if (rss > 150) process.exitCode = 1;
} finally {
  await reg.stop();
  await rm(work, { recursive: true, force: true });
}

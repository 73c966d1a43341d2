/**
 * The load scenario of issue 10, shared by the in-suite test (15 s) and `bench/load.ts` (60 s):
 * `downloads` clients fetching a cached asset back to back, plus schematic creation at a fixed
 * rate, against a factory on loopback; the server's resident memory is sampled throughout.
 */
import { createHash } from "node:crypto";
import { Agent, request } from "node:http";
import { canonicalSchematic, idOfCanonical, parseSchematic } from "../../src/schematic/index.js";

/** What to run. */
export interface LoadOptions {
  url: string;
  seconds: number;
  /** Concurrent download clients. */
  downloads: number;
  /** Path of a cached asset and its exact size. */
  assetPath: string;
  assetSize: number;
  /** Its sha256 (hex): when given, every download is hashed and checked against it. */
  assetDigest?: string;
  /** Schematic creations per second. */
  schematicsPerSecond: number;
  /** Resident memory of the server, KiB. */
  rssKiB: () => Promise<number>;
  /** A single request taking longer than this counts as an error. */
  requestTimeoutMs?: number;
}

/** What happened. */
export interface LoadReport {
  downloads: number;
  bytes: number;
  schematics: number;
  errors: string[];
  /** Schematic create latencies, ms, sorted. */
  createMs: number[];
  /** RSS samples, MiB, in time order. */
  rssMiB: number[];
  seconds: number;
}

type Result = { status: number; bytes: number; body: string; digest: string };

function call(
  agent: Agent,
  url: URL,
  method: string,
  path: string,
  body: string | undefined,
  timeoutMs: number,
  hash = false,
) {
  return new Promise<Result>((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, method, path, timeout: timeoutMs },
      (res) => {
        let bytes = 0;
        let text = "";
        const h = hash ? createHash("sha256") : undefined;
        res.on("data", (c: Buffer) => {
          bytes += c.length;
          h?.update(c);
          // Only small bodies (errors, schematic answers) are kept.
          if (text.length < 4096) text += c.toString();
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, bytes, body: text, digest: h?.digest("hex") ?? "" }),
        );
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs the scenario; never throws for request failures (they are reported). */
export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const url = new URL(o.url);
  const timeoutMs = o.requestTimeoutMs ?? 60_000;
  const agent = new Agent({ keepAlive: true, maxSockets: o.downloads + 32 });
  const started = Date.now();
  const deadline = started + o.seconds * 1000;
  const r: LoadReport = {
    downloads: 0,
    bytes: 0,
    schematics: 0,
    errors: [],
    createMs: [],
    rssMiB: [],
    seconds: 0,
  };
  const fail = (what: string) => {
    if (r.errors.length < 50) r.errors.push(what);
  };

  const sampler = setInterval(() => {
    void o.rssKiB().then((k) => r.rssMiB.push(k / 1024));
  }, 250);

  const downloader = async () => {
    while (Date.now() < deadline) {
      try {
        const res = await call(
          agent,
          url,
          "GET",
          o.assetPath,
          undefined,
          timeoutMs,
          o.assetDigest !== undefined,
        );
        if (res.status !== 200 || res.bytes !== o.assetSize)
          fail(`download: ${res.status} ${res.bytes} bytes ${res.body.slice(0, 200)}`);
        else if (o.assetDigest !== undefined && res.digest !== o.assetDigest)
          fail(`download: ${res.bytes} bytes with sha256 ${res.digest}, not ${o.assetDigest}`);
        else r.downloads++;
        r.bytes += res.bytes;
      } catch (e) {
        fail(`download: ${(e as Error).message}`);
      }
    }
  };

  // Fixed rate: one creation every 1/rate s, each a distinct schematic whose ID is checked.
  const creations: Promise<void>[] = [];
  const total = Math.floor(o.seconds * o.schematicsPerSecond);
  const create = async (i: number) => {
    const text = `customization:\n  extraKernelArgs:\n    - load=${i}\n`;
    const want = idOfCanonical(canonicalSchematic(parseSchematic(new TextEncoder().encode(text))));
    const t = performance.now();
    try {
      const res = await call(agent, url, "POST", "/schematics", text, timeoutMs);
      r.createMs.push(performance.now() - t);
      const id = res.status === 201 ? (JSON.parse(res.body) as { id: string }).id : "";
      if (id !== want) fail(`create: ${res.status} ${res.body.slice(0, 200)}`);
      else r.schematics++;
    } catch (e) {
      fail(`create: ${(e as Error).message}`);
    }
  };
  // Every one of the `total` creations is sent: when this client's own event loop lags behind
  // (200 downloads on a 2-core machine), the late ones go out at once rather than being dropped,
  // so the count measures the factory, not the client's timers.
  const creator = (async () => {
    for (let i = 0; i < total; i++) {
      creations.push(create(i));
      const next = started + ((i + 1) * 1000) / o.schematicsPerSecond;
      await new Promise((res) => setTimeout(res, Math.max(0, next - Date.now())));
    }
  })();

  await Promise.all([...Array.from({ length: o.downloads }, downloader), creator]);
  await Promise.all(creations);
  clearInterval(sampler);
  agent.destroy();
  r.createMs.sort((a, b) => a - b);
  r.seconds = (Date.now() - started) / 1000;
  return r;
}

/** The p-th percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Mean of a slice of samples given as fractions of the run, e.g. (0.25, 0.5). */
export function meanOf(samples: readonly number[], from: number, to: number): number {
  const s = samples.slice(Math.floor(samples.length * from), Math.ceil(samples.length * to));
  return s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
}

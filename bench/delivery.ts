/**
 * Bench: cached asset delivery. A 256 MiB asset cached by the factory, downloaded over loopback by
 * 1, 16 and 64 concurrent curl clients, against nginx (Debian, `sendfile on`, one worker) serving
 * the very same file to the same clients. Prints, per client count, the aggregate throughput
 * ratio (target ≥ 0.9) and the server CPU per GiB against nginx's (target ≤ 2×), with a plain
 * `node:http` pipe as a reference; then the factory's peak RSS over all of it (target < 300 MiB).
 *
 * Beside wall-clock throughput (noisy on a shared machine), each server's CPU time (user +
 * system, from /proc/<pid>/stat) per GiB served is reported: it does not depend on what else the
 * machine runs. The factory runs compiled with tsc (as a deployment built with `npm run build`);
 * `--tsx` runs it from the sources through tsx.
 *
 *   node --import tsx bench/delivery.ts [--profile] [--tsx]   (BENCH_DELIVERY_MIB=256 by default)
 *
 * `--profile` runs the factory under `--cpu-prof` and prints where its time goes.
 */
import { execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { EMPTY_ID, fixtureRelease } from "../test/factory/harness.js";
import { spawnFactory } from "../test/reliability/spawn-factory.js";
import {
  compileForBench,
  cpuSeconds,
  machine,
  median,
  report,
  rssKiB,
  summarizeProfile,
} from "./lib/common.js";
import { freePort } from "../src/oci/testing/registry.js";

const run = promisify(execFile);
const MIB = Number(process.env.BENCH_DELIVERY_MIB ?? 256);
const ROUNDS = 3;
const profile = process.argv.includes("--profile");

interface Curl {
  ttfb: number;
  bytesPerSecond: number;
  size: number;
}

async function curl(url: string): Promise<Curl> {
  const { stdout } = await run("curl", [
    "-sS",
    "-o",
    "/dev/null",
    "-w",
    "%{time_starttransfer} %{speed_download} %{size_download} %{http_code}",
    url,
  ]);
  const [ttfb, speed, size, code] = stdout.trim().split(" ").map(Number);
  if (code !== 200) throw new Error(`${url}: HTTP ${code}`);
  return { ttfb: ttfb!, bytesPerSecond: speed!, size: size! };
}

/** Files under `dir`, recursively. */
async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

const work = await mkdtemp(join(tmpdir(), "bootforge-bench-delivery-"));
const profDir = join(work, "prof");
const viaTsx = process.argv.includes("--tsx");
const f = await spawnFactory({
  storage: join(work, "factory"),
  release: await fixtureRelease(),
  ukiMib: MIB,
  chunkMs: 0,
  nodeArgs: profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
  ...(viaTsx ? {} : { compiled: await compileForBench("test/reliability/child-factory.ts") }),
});

/** Processes of a server: the process and its direct children (nginx's worker). */
async function family(pid: number): Promise<number[]> {
  const kids = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  return [pid, ...kids.split(" ").filter(Boolean).map(Number)];
}

/** `n` concurrent downloads of `url`: bytes, wall seconds, median TTFB, the server's CPU meanwhile. */
interface Batch {
  bytes: number;
  seconds: number;
  ttfb: number;
  cpu: number;
}
async function batch(url: string, pid: number, n: number): Promise<Batch> {
  const pids = await family(pid);
  const before = await Promise.all(pids.map(cpuSeconds));
  const t = performance.now();
  const all = await Promise.all(Array.from({ length: n }, () => curl(url)));
  const seconds = (performance.now() - t) / 1000;
  const after = await Promise.all(pids.map(cpuSeconds));
  const cpu = after.reduce((sum, [u, s], i) => sum + u + s - before[i]![0] - before[i]![1], 0);
  return { bytes: all.reduce((a, c) => a + c.size, 0), seconds, ttfb: median(all.map((c) => c.ttfb)), cpu };
}
let nginx: ReturnType<typeof spawn> | undefined;
let plain: ReturnType<typeof spawn> | undefined;
try {
  await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" });
  const path = `/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`;
  // First request builds and caches the asset; what follows measures delivery only.
  const warm = await curl(`${f.url}${path}`);
  if (warm.size !== MIB * 2 ** 20) throw new Error(`asset is ${warm.size} bytes`);
  const [asset] = await files(join(work, "factory", "store", "assets"));
  if (asset === undefined) throw new Error("no cached asset");

  // nginx serving that same file (hard link into its root), sendfile on, one worker.
  const root = join(work, "nginx-root");
  await mkdir(join(work, "nginx-tmp"), { recursive: true });
  await mkdir(root);
  await run("ln", [asset, join(root, "asset")]);
  const port = await freePort();
  const conf = join(work, "nginx.conf");
  const asRoot = process.getuid?.() === 0;
  await writeFile(
    conf,
    [
      // Workers would drop to `nobody`, who cannot enter the private temp directory.
      asRoot ? "user root;" : "",
      "worker_processes 1;",
      "daemon off;",
      `pid ${join(work, "nginx.pid")};`,
      `error_log ${join(work, "nginx.err")} warn;`,
      "events { worker_connections 256; }",
      "http {",
      "  access_log off;",
      "  sendfile on; tcp_nopush on;",
      `  client_body_temp_path ${join(work, "nginx-tmp")};`,
      `  proxy_temp_path ${join(work, "nginx-tmp")}; fastcgi_temp_path ${join(work, "nginx-tmp")};`,
      `  uwsgi_temp_path ${join(work, "nginx-tmp")}; scgi_temp_path ${join(work, "nginx-tmp")};`,
      `  server { listen 127.0.0.1:${port}; root ${root}; default_type application/octet-stream; }`,
      "}",
      "",
    ].join("\n"),
  );
  nginx = spawn("nginx", ["-c", conf, "-p", work], { stdio: "ignore" });
  const nginxUrl = `http://127.0.0.1:${port}/asset`;
  for (let i = 0; i < 50; i++) {
    if (
      await fetch(nginxUrl, { method: "HEAD" }).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // What the fix would reach: plain node:http piping a 1 MiB-chunk file stream into the response
  // (no Web streams in between), in a child process like the factory.
  const plainPort = await freePort();
  plain = spawn(
    process.execPath,
    [
      "-e",
      `const fs=require("node:fs");require("node:http").createServer((q,r)=>{` +
        `r.writeHead(200,{"Content-Length":fs.statSync(process.argv[1]).size});` +
        `fs.createReadStream(process.argv[1],{highWaterMark:1<<20}).pipe(r)}).listen(${plainPort},"127.0.0.1")`,
      asset,
    ],
    { stdio: "ignore" },
  );
  const plainUrl = `http://127.0.0.1:${plainPort}/`;
  for (let i = 0; i < 50; i++) {
    if (
      await fetch(plainUrl, { method: "HEAD" }).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }

  // N clients at once (1, 16, 64), each downloading the whole file: aggregate throughput and the
  // server's CPU per GiB, nginx and Bootforge alternating so drifting load hits both alike.
  const levels = [1, 16, 64];
  const results: string[] = [];
  let worst = Infinity;
  let rssPeak = (await rssKiB(f.pid)) / 1024;
  const sampler = setInterval(
    () => void rssKiB(f.pid).then((k) => (rssPeak = Math.max(rssPeak, k / 1024))),
    100,
  );
  for (const n of levels) {
    const ours: Batch[] = [];
    const theirs: Batch[] = [];
    const piped: Batch[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      theirs.push(await batch(nginxUrl, nginx.pid!, n));
      ours.push(await batch(`${f.url}${path}`, f.pid, n));
      piped.push(await batch(plainUrl, plain.pid!, n));
    }
    const bps = (b: Batch[]) => median(b.map((x) => x.bytes / x.seconds));
    const perGiB = (b: Batch[]) => median(b.map((x) => x.cpu / (x.bytes / 2 ** 30)));
    const ratio = bps(ours) / bps(theirs);
    const cpuRatio = perGiB(ours) / perGiB(theirs);
    worst = Math.min(worst, ratio);
    report(
      `delivery-${n}-client${n === 1 ? "" : "s"}`,
      ratio,
      `${n} × ${MIB} MiB over loopback: bootforge ${(bps(ours) / 2 ** 20).toFixed(0)} MiB/s, nginx sendfile ` +
        `${(bps(theirs) / 2 ** 20).toFixed(0)} MiB/s (target ≥ 0.90); server CPU per GiB: bootforge ` +
        `${perGiB(ours).toFixed(2)} s, nginx ${perGiB(theirs).toFixed(2)} s = ${cpuRatio.toFixed(2)}× (target ≤ 2.00); ` +
        `node:http + fs stream pipe: ${(bps(piped) / 2 ** 20).toFixed(0)} MiB/s, ${perGiB(piped).toFixed(2)} s/GiB; ` +
        `TTFB median bootforge ${(median(ours.map((b) => b.ttfb)) * 1000).toFixed(1)} ms, nginx ` +
        `${(median(theirs.map((b) => b.ttfb)) * 1000).toFixed(1)} ms; median of ${ROUNDS}`,
    );
    results.push(`${n}: ${ratio.toFixed(2)}`);
  }
  clearInterval(sampler);
  report(
    "delivery-rss",
    rssPeak / 300,
    `factory peak RSS while serving up to ${levels.at(-1)} concurrent downloads: ${rssPeak.toFixed(0)} MiB ` +
      `(ratio = peak / 300 MiB limit); throughput ratios by clients ${results.join(", ")}; worst ${worst.toFixed(2)}; ` +
      `factory ${viaTsx ? "from src via tsx" : "compiled with tsc"}`,
  );
  console.error(`# machine: ${machine()}`);
} finally {
  nginx?.kill("SIGTERM");
  plain?.kill("SIGTERM");
  await f.stop();
  if (profile) await summarizeProfile(profDir);
  await rm(work, { recursive: true, force: true });
}

/**
 * Bench: cached asset delivery. A 1 GiB asset cached by the factory, downloaded over loopback with
 * curl, against nginx (Debian, `sendfile on`) serving the very same file. Prints throughput ratio
 * (target ≥ 0.9) and time to first byte (target < 5 ms); then 20 concurrent 1 GiB downloads with
 * the factory's peak RSS (target < 300 MiB).
 *
 * Beside wall-clock throughput (noisy on a shared machine), each server's CPU time (user +
 * system, from /proc/<pid>/stat) per GiB served is reported: it does not depend on what else the
 * machine runs. The factory runs compiled with tsc (as a deployment built with `npm run build`);
 * `--tsx` runs it from the sources through tsx.
 *
 *   node --import tsx bench/delivery.ts [--profile] [--tsx]   (BENCH_DELIVERY_MIB=1024 by default)
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
  peakRssKiB,
  report,
  rssKiB,
  summarizeProfile,
} from "./lib/common.js";
import { freePort } from "../src/oci/testing/registry.js";

const run = promisify(execFile);
const MIB = Number(process.env.BENCH_DELIVERY_MIB ?? 1024);
const ROUNDS = 3;
const CONCURRENT = 20;
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

/** `curl(url)` and the CPU seconds the server's processes spent meanwhile. */
async function timedCurl(url: string, pid: number): Promise<Curl & { cpu: number }> {
  const pids = await family(pid);
  const before = await Promise.all(pids.map(cpuSeconds));
  const c = await curl(url);
  const after = await Promise.all(pids.map(cpuSeconds));
  const cpu = after.reduce((t, [u, s], i) => t + u + s - before[i]![0] - before[i]![1], 0);
  return { ...c, cpu };
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

  // Alternate, so drifting machine load hits both sides alike; keep the median of each.
  const ours: (Curl & { cpu: number })[] = [];
  const theirs: (Curl & { cpu: number })[] = [];
  const piped: (Curl & { cpu: number })[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    theirs.push(await timedCurl(nginxUrl, nginx.pid!));
    ours.push(await timedCurl(`${f.url}${path}`, f.pid));
    piped.push(await timedCurl(plainUrl, plain.pid!));
  }
  // CPU seconds per GiB served (the median run of each side).
  const perGiB = (cs: (Curl & { cpu: number })[]) => median(cs.map((c) => c.cpu / (c.size / 2 ** 30)));
  const pipedBps = median(piped.map((c) => c.bytesPerSecond));
  const oursBps = median(ours.map((c) => c.bytesPerSecond));
  const theirsBps = median(theirs.map((c) => c.bytesPerSecond));
  const ttfbMs = median(ours.map((c) => c.ttfb)) * 1000;
  const nginxTtfbMs = median(theirs.map((c) => c.ttfb)) * 1000;
  report(
    MIB === 1024 ? "delivery-1gib" : `delivery-${MIB}mib`,
    oursBps / theirsBps,
    `${MIB} MiB over loopback: bootforge ${(oursBps / 2 ** 20).toFixed(0)} MiB/s, nginx sendfile ` +
      `${(theirsBps / 2 ** 20).toFixed(0)} MiB/s; TTFB ${ttfbMs.toFixed(1)} ms (nginx ${nginxTtfbMs.toFixed(1)} ms); ` +
      `median of ${ROUNDS}; target ratio ≥ 0.9, TTFB < 5 ms; reference: node:http + fs stream .pipe(res), ` +
      `1 MiB reads: ${(pipedBps / 2 ** 20).toFixed(0)} MiB/s = ratio ${(pipedBps / theirsBps).toFixed(2)}; ` +
      `server CPU per GiB (user + sys): bootforge ${perGiB(ours).toFixed(2)} s, nginx ${perGiB(theirs).toFixed(2)} s, ` +
      `node:http pipe ${perGiB(piped).toFixed(2)} s; TTFB all runs ${ours.map((c) => (c.ttfb * 1000).toFixed(1)).join("/")} ms; ` +
      `factory ${viaTsx ? "from src via tsx" : "compiled with tsc"}`,
  );

  // 20 concurrent full downloads: memory must not scale with the number of streams.
  // VmHWM also remembers the build; sample VmRSS during the downloads instead.
  const before = (await rssKiB(f.pid)) / 1024;
  let peak = before;
  const sampler = setInterval(() => void rssKiB(f.pid).then((k) => (peak = Math.max(peak, k / 1024))), 100);
  const t = performance.now();
  const all = await Promise.all(Array.from({ length: CONCURRENT }, () => curl(`${f.url}${path}`)));
  const seconds = (performance.now() - t) / 1000;
  clearInterval(sampler);
  const buildPeak = (await peakRssKiB(f.pid)) / 1024;
  const total = all.reduce((a, c) => a + c.size, 0);
  report(
    "delivery-20x1gib-rss",
    peak / 300,
    `${CONCURRENT} concurrent ${MIB} MiB downloads in ${seconds.toFixed(1)} s ` +
      `(${(total / 2 ** 20 / seconds).toFixed(0)} MiB/s aggregate); factory peak RSS ${peak.toFixed(0)} MiB ` +
      `(idle before: ${before.toFixed(0)} MiB; all-time VmHWM incl. the build: ${buildPeak.toFixed(0)} MiB); ratio = peak / 300 MiB limit`,
  );
  console.error(`# machine: ${machine()}`);
} finally {
  nginx?.kill("SIGTERM");
  plain?.kill("SIGTERM");
  await f.stop();
  if (profile) await summarizeProfile(profDir);
  await rm(work, { recursive: true, force: true });
}

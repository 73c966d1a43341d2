/**
 * Bench: `POST /schematics` requests/s at 64 concurrent connections (wrk, 2 threads, 10 s).
 * Headline: a new schematic per request against a `node:http` server doing the same minimal work
 * (hash the body, write it to a temporary file, fsync, rename) — target ratio ≥ 0.6. Then known
 * schematics against a bare `node:http` server answering with a constant (target ≥ 0.6,
 * p99 < 10 ms): that mix rotates through 32 distinct schematics of realistic shapes
 * (extensions, kernel arguments, META, overlay; 60–500 bytes), all known to the factory after the
 * first round: the "what is my ID" call of many clients. The factory logs every request as a JSON
 * line to a file, as `image-factory serve` logs to stdout (upstream logs every request too); the
 * same factory without the log is reported beside it. Reported separately: 2000 distinct
 * schematics in rotation (more than the factory's body cache, so every request is decoded, but
 * none is new), and a new schematic per request (every one a durable, fsynced write). Also for
 * reference: the bare server with the write batching Bootforge's fast path uses (each event-loop
 * turn's responses written at its end), since that alone makes a server cheaper per request.
 *
 * Besides wall-clock req/s (noisy on a shared machine), each server's CPU time per request is
 * read from /proc/<pid>/stat (user + system ticks over the wrk run / requests served): that
 * figure does not depend on what else the machine runs.
 *
 *   node --import tsx bench/schematic-create.ts [--profile] [--tsx]   (BENCH_WRK_SECONDS=10)
 */
import { execFile, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fixtureRelease } from "../test/factory/harness.js";
import { spawnFactory } from "../test/reliability/spawn-factory.js";
import { compileForBench, cpuSeconds, machine, report, summarizeProfile } from "./lib/common.js";
import { freePort } from "../src/oci/testing/registry.js";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);
const EXTENSIONS = [
  "siderolabs/iscsi-tools",
  "siderolabs/util-linux-tools",
  "siderolabs/qemu-guest-agent",
  "siderolabs/intel-ucode",
  "siderolabs/amd-ucode",
  "siderolabs/nvidia-container-toolkit-lts",
  "siderolabs/gvisor",
  "siderolabs/drbd",
];

/** Schematic `i` of a deterministic family: extensions, kernel args, META, an overlay now and then. */
function schematic(i: number): string {
  const exts = EXTENSIONS.filter((_, k) => ((i >> k) & 1) === 1 || k === i % EXTENSIONS.length);
  const lines = ["customization:"];
  if (i % 3 !== 0)
    lines.push("  extraKernelArgs:", `    - net.ifnames=${i % 2}`, `    - console=ttyS${i % 4}`);
  if (i % 5 === 1) lines.push("  meta:", "    - key: 12", `      value: "zone-${i}"`);
  lines.push("  systemExtensions:", "    officialExtensions:", ...exts.map((e) => `      - ${e}`));
  if (i % 7 === 3) lines.push("overlay:", "  image: siderolabs/sbc-raspberrypi", "  name: rpi_generic");
  return lines.join("\n") + "\n";
}

/** A wrk script sending `bodies` in rotation (each connection starts at its own offset). */
function rotationScript(bodies: readonly string[]): string {
  return [
    "local bodies = {",
    ...bodies.map((b) => `  ${JSON.stringify(b)},`),
    "}",
    "local reqs = {}",
    "local i = 0",
    "init = function(args)",
    "  for k, b in ipairs(bodies) do",
    '    reqs[k] = wrk.format("POST", "/schematics", {["Content-Type"] = "application/yaml"}, b)',
    "  end",
    "  i = math.random(0, #reqs - 1)",
    "end",
    "request = function()",
    "  i = i % #reqs + 1",
    "  return reqs[i]",
    "end",
    "",
  ].join("\n");
}

interface Wrk {
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  errors: string;
  /** Server CPU (user + system) per request, µs. */
  cpuUs: number;
  /** Of which user time, µs. */
  userUs: number;
}

/** Latency text (`1.23ms`, `850.00us`, `1.2s`) → ms. */
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : m[2] === "m" ? v * 60_000 : v;
}

async function wrk(url: string, script: string, pid: number): Promise<Wrk> {
  const cpu0 = await cpuSeconds(pid);
  const { stdout } = await run("wrk", ["-t2", "-c64", `-d${SECONDS}s`, "--latency", "-s", script, url], {
    maxBuffer: 1 << 20,
  });
  const cpu1 = await cpuSeconds(pid);
  const user = cpu1[0] - cpu0[0];
  const cpu = user + cpu1[1] - cpu0[1];
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? "");
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? "");
  const errors = [/Socket errors:.*$/m.exec(stdout)?.[0], /Non-2xx or 3xx responses: \d+/.exec(stdout)?.[0]]
    .filter(Boolean)
    .join("; ");
  return {
    rps,
    requests,
    p50,
    p99,
    errors: errors || "no errors",
    cpuUs: (cpu / requests) * 1e6,
    userUs: (user / requests) * 1e6,
  };
}

/** Lines and bytes of a file, read in chunks. */
async function countLines(path: string): Promise<{ lines: number; bytes: number }> {
  let lines = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    const b = chunk as Buffer;
    bytes += b.length;
    for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++;
  }
  return { lines, bytes };
}

const work = await mkdtemp(join(tmpdir(), "bootforge-bench-schematic-"));
const profile = process.argv.includes("--profile");
const profDir = join(work, "prof");
// Compiled like `npm run build` (a deployment runs that); `--tsx` runs the sources through tsx.
const viaTsx = process.argv.includes("--tsx");
// The factory logs every request as `image-factory serve` does (JSON lines, info level), to a file.
const logFile = join(work, "requests.log");
const f = await spawnFactory({
  storage: join(work, "factory"),
  release: await fixtureRelease(),
  log: logFile,
  nodeArgs: profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
  ...(viaTsx ? {} : { compiled: await compileForBench("test/reliability/child-factory.ts") }),
});
// The same factory without a request log: what the log costs.
const quiet = await spawnFactory({
  storage: join(work, "factory-quiet"),
  release: await fixtureRelease(),
  ...(viaTsx ? {} : { compiled: await compileForBench("test/reliability/child-factory.ts") }),
});
const port = await freePort();
const bareCode = (deferred: boolean, listenPort: number) =>
  `const b=JSON.stringify({id:"0".repeat(64),schematic:"x"})+"\\n";` +
  `const w=(r)=>{r.writeHead(201,{"Content-Type":"application/json","Content-Length":Buffer.byteLength(b)});r.end(b)};` +
  // The reference variant writes as Bootforge's fast path does: every response of an event-loop
  // turn at its end.
  (deferred ? `let Q=[];const f=()=>{const q=Q;Q=[];for(const r of q)w(r)};` : "") +
  `require("node:http").createServer((q,r)=>{q.resume();q.on("end",()=>{` +
  (deferred ? `if(Q.length===0)setImmediate(f);Q.push(r)` : `w(r)`) +
  `})}).listen(${listenPort},"127.0.0.1")`;
// The peer: the least a node:http server can do for this request (read the body, answer 201).
const bare = spawn(process.execPath, ["-e", bareCode(false, port)], { stdio: "ignore" });
// The peer for new schematics: the same minimal work a durable create needs — hash the body, write
// it to a temporary file, fsync, rename into place under its hash, answer 201 with the ID.
const writerDir = join(work, "writer");
await mkdir(writerDir);
const writerPort = await freePort();
const writerCode =
  `const fs=require("node:fs"),c=require("node:crypto"),path=require("node:path");const d=process.argv[1];let n=0;` +
  `require("node:http").createServer((q,r)=>{const h=c.createHash("sha256");const parts=[];` +
  `q.on("data",(b)=>{h.update(b);parts.push(b)});q.on("end",()=>{const id=h.digest("hex");` +
  `const f=path.join(d,id+".yaml");const t=path.join(d,"tmp-"+(n++));` +
  `fs.open(t,"w",(e,fd)=>{if(e)throw e;fs.write(fd,Buffer.concat(parts),(e)=>{if(e)throw e;fs.fsync(fd,(e)=>{if(e)throw e;` +
  `fs.close(fd,()=>fs.rename(t,f,(e)=>{if(e)throw e;const b=JSON.stringify({id})+"\\n";` +
  `r.writeHead(201,{"Content-Type":"application/json","Content-Length":Buffer.byteLength(b)});r.end(b)}))})})})})})` +
  `.listen(${writerPort},"127.0.0.1")`;
const writer = spawn(process.execPath, ["-e", writerCode, writerDir], { stdio: "ignore" });
// For reference, not the ratio: the same with Bootforge's end-of-turn write batching.
const batchedPort = await freePort();
const bareBatched = spawn(process.execPath, ["-e", bareCode(true, batchedPort)], { stdio: "ignore" });
try {
  const mix = join(work, "mix.lua");
  await writeFile(mix, rotationScript(Array.from({ length: 32 }, (_, i) => schematic(i))));
  // More distinct bodies than the factory's body cache holds (1000): each request is decoded.
  const wide = join(work, "wide.lua");
  await writeFile(wide, rotationScript(Array.from({ length: 2000 }, (_, i) => schematic(i) + `# ${i}\n`)));
  // A new schematic per request: the counter makes each body (and ID) unique.
  const fresh = join(work, "fresh.lua");
  await writeFile(
    fresh,
    [
      "local n = 0",
      "local id = math.random(1, 1000000000)",
      "request = function()",
      "  n = n + 1",
      `  local body = "customization:\\n  extraKernelArgs:\\n    - bench=" .. id .. "-" .. n .. "\\n"`,
      '  return wrk.format("POST", "/schematics", {["Content-Type"] = "application/yaml"}, body)',
      "end",
      "",
    ].join("\n"),
  );
  const up = (p: number) =>
    fetch(`http://127.0.0.1:${p}/`, { method: "POST", body: "x" }).then(
      (r) => r.ok,
      () => false,
    );
  for (let i = 0; i < 50 && !((await up(port)) && (await up(batchedPort)) && (await up(writerPort))); i++)
    await new Promise((r) => setTimeout(r, 100));
  // Warm-up: every body of the mix once, so the measured runs see known schematics.
  for (let i = 0; i < 32; i++) {
    await fetch(`${f.url}/schematics`, { method: "POST", body: schematic(i) });
    await fetch(`${quiet.url}/schematics`, { method: "POST", body: schematic(i) });
  }
  const peer = await wrk(`http://127.0.0.1:${port}/schematics`, mix, bare.pid!);
  const ours = await wrk(`${f.url}/schematics`, mix, f.pid);
  const peer2 = await wrk(`http://127.0.0.1:${port}/schematics`, mix, bare.pid!);
  const ours2 = await wrk(`${f.url}/schematics`, mix, f.pid);
  const unlogged = await wrk(`${quiet.url}/schematics`, mix, quiet.pid);
  const peer3 = await wrk(`http://127.0.0.1:${port}/schematics`, mix, bare.pid!);
  const unlogged2 = await wrk(`${quiet.url}/schematics`, mix, quiet.pid);
  const batched = await wrk(`http://127.0.0.1:${batchedPort}/schematics`, mix, bareBatched.pid!);
  const batched2 = await wrk(`http://127.0.0.1:${batchedPort}/schematics`, mix, bareBatched.pid!);
  const decoded = await wrk(`${f.url}/schematics`, wide, f.pid);
  // Headline: a new schematic per request, alternating with the hashing, fsyncing writer.
  const writes = await wrk(`http://127.0.0.1:${writerPort}/schematics`, fresh, writer.pid!);
  const unique = await wrk(`${f.url}/schematics`, fresh, f.pid);
  const writes2 = await wrk(`http://127.0.0.1:${writerPort}/schematics`, fresh, writer.pid!);
  const unique2 = await wrk(`${quiet.url}/schematics`, fresh, quiet.pid);
  const logged = await countLines(logFile);
  const best = (a: Wrk, b: Wrk) => (a.rps >= b.rps ? a : b);
  const o = best(ours, ours2);
  const p = best(peer, peer2);
  const u = best(unlogged, unlogged2);
  const bb = best(batched, batched2);
  const cpu = (w: Wrk) =>
    `${w.cpuUs.toFixed(1)} µs CPU/req (user ${w.userUs.toFixed(1)}, sys ${(w.cpuUs - w.userUs).toFixed(1)})`;
  const nw = best(writes, writes2);
  const nu = best(unique, unique2);
  report(
    "schematic-create-new",
    nu.rps / nw.rps,
    `64 connections, ${SECONDS} s, a new schematic per request, best of 2 alternating runs: bootforge ` +
      `${nu.rps.toFixed(0)} req/s p99 ${nu.p99.toFixed(2)} ms (${nu.errors}), ${cpu(nu)}; node:http that hashes ` +
      `each body, writes it to a temporary file, fsyncs and renames it (the same minimal work): ` +
      `${nw.rps.toFixed(0)} req/s p99 ${nw.p99.toFixed(2)} ms (${nw.errors}), ${cpu(nw)}; target ratio ≥ 0.6`,
  );
  report(
    "schematic-create-known",
    o.rps / p.rps,
    `64 connections, ${SECONDS} s, 32 known schematics in rotation, best of 2 alternating runs: ` +
      `bootforge ${o.rps.toFixed(0)} req/s p50 ${o.p50.toFixed(2)} ms p99 ${o.p99.toFixed(2)} ms ` +
      `(${o.errors}), ${cpu(o)}; bare node:http ${p.rps.toFixed(0)} req/s p99 ${p.p99.toFixed(2)} ms, ` +
      `${cpu(p)}; CPU ratio (bare/bootforge) ${(p.cpuUs / o.cpuUs).toFixed(2)}; ` +
      `without the request log (best of 2): ${u.rps.toFixed(0)} req/s = ratio ` +
      `${(u.rps / best(p, peer3).rps).toFixed(2)} against the best bare run, p99 ${u.p99.toFixed(2)} ms, ${cpu(u)}; ` +
      `for reference, bare node:http writing each event-loop turn's responses at its end as ` +
      `Bootforge does: ${bb.rps.toFixed(0)} req/s, ${cpu(bb)} (Bootforge/it ${(o.rps / bb.rps).toFixed(2)}); ` +
      `2000 schematics in rotation (each decoded, none new): ${decoded.rps.toFixed(0)} req/s ` +
      `p99 ${decoded.p99.toFixed(2)} ms, ${cpu(decoded)}; new schematic per request: ` +
      `${unique.rps.toFixed(0)} req/s p99 ${unique.p99.toFixed(2)} ms (${unique.errors}), ${cpu(unique)}; ` +
      `factory ${viaTsx ? "from src via tsx" : "compiled with tsc"}, every request logged as a JSON ` +
      `line like \`image-factory serve\` (${logged.lines} lines, ${(logged.bytes / 2 ** 20).toFixed(0)} MiB); ` +
      `target ratio ≥ 0.6, p99 < 10 ms`,
  );
  console.error(`# machine: ${machine()}`);
} finally {
  bare.kill("SIGTERM");
  bareBatched.kill("SIGTERM");
  writer.kill("SIGTERM");
  await f.stop();
  await quiet.stop();
  if (profile) await summarizeProfile(profDir);
  await rm(work, { recursive: true, force: true });
}

/**
 * Bench: `POST /schematics` requests/s at 64 concurrent connections (wrk, 2 threads, 10 s) against
 * a bare `node:http` server answering the same request with a constant — target ratio ≥ 0.6,
 * p99 < 10 ms. The body is one schematic sent again and again (the common "get me the ID" call);
 * a second run sends a new schematic per request (every one a durable, fsynced write).
 *
 *   node --import tsx bench/schematic-create.ts [--profile]   (BENCH_WRK_SECONDS=10)
 */
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fixtureRelease } from "../test/factory/harness.js";
import { spawnFactory } from "../test/reliability/spawn-factory.js";
import { machine, report, summarizeProfile } from "./lib/common.js";
import { freePort } from "../src/oci/testing/registry.js";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);
const BODY = 'customization:\n  extraKernelArgs:\n    - "net.ifnames=0"\n';

interface Wrk {
  rps: number;
  p50: number;
  p99: number;
  errors: string;
}

/** Latency text (`1.23ms`, `850.00us`, `1.2s`) → ms. */
function ms(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : m[2] === "m" ? v * 60_000 : v;
}

async function wrk(url: string, script: string): Promise<Wrk> {
  const { stdout } = await run("wrk", ["-t2", "-c64", `-d${SECONDS}s`, "--latency", "-s", script, url], {
    maxBuffer: 1 << 20,
  });
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50 = ms(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1] ?? "");
  const p99 = ms(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1] ?? "");
  const errors = [/Socket errors:.*$/m.exec(stdout)?.[0], /Non-2xx or 3xx responses: \d+/.exec(stdout)?.[0]]
    .filter(Boolean)
    .join("; ");
  return { rps, p50, p99, errors: errors || "no errors" };
}

const work = await mkdtemp(join(tmpdir(), "bootforge-bench-schematic-"));
const profile = process.argv.includes("--profile");
const profDir = join(work, "prof");
const f = await spawnFactory({
  storage: join(work, "factory"),
  release: await fixtureRelease(),
  nodeArgs: profile ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : [],
});
const port = await freePort();
// The peer: the least a node:http server can do for this request (read the body, answer 201).
const bare = spawn(
  process.execPath,
  [
    "-e",
    `const b=JSON.stringify({id:"0".repeat(64),schematic:"x"})+"\\n";` +
      `require("node:http").createServer((q,r)=>{q.resume();q.on("end",()=>{` +
      `r.writeHead(201,{"Content-Type":"application/json","Content-Length":Buffer.byteLength(b)});r.end(b)})})` +
      `.listen(${port},"127.0.0.1")`,
  ],
  { stdio: "ignore" },
);
try {
  const same = join(work, "same.lua");
  await writeFile(
    same,
    `wrk.method = "POST"\nwrk.body = ${JSON.stringify(BODY)}\nwrk.headers["Content-Type"] = "application/yaml"\n`,
  );
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
  for (let i = 0; i < 50; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}/`, { method: "POST", body: "x" }).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const peer = await wrk(`http://127.0.0.1:${port}/schematics`, same);
  const ours = await wrk(`${f.url}/schematics`, same);
  const unique = await wrk(`${f.url}/schematics`, fresh);
  report(
    "schematic-create",
    ours.rps / peer.rps,
    `64 connections, ${SECONDS} s: bootforge ${ours.rps.toFixed(0)} req/s p50 ${ours.p50.toFixed(2)} ms ` +
      `p99 ${ours.p99.toFixed(2)} ms (${ours.errors}); bare node:http ${peer.rps.toFixed(0)} req/s ` +
      `p99 ${peer.p99.toFixed(2)} ms; new schematic per request: ${unique.rps.toFixed(0)} req/s ` +
      `p99 ${unique.p99.toFixed(2)} ms (${unique.errors}); target ratio ≥ 0.6, p99 < 10 ms`,
  );
  console.error(`# machine: ${machine()}`);
} finally {
  bare.kill("SIGTERM");
  await f.stop();
  if (profile) await summarizeProfile(profDir);
  await rm(work, { recursive: true, force: true });
}

/**
 * The factory started as upstream's is: a configuration file with upstream's keys plus `IF_*`
 * variables (listen address, external URL, min version, concurrency, release signature key,
 * cache signing key, TLS files, metrics address). Observed from outside: `curl --cacert` over
 * TLS, a replaced certificate picked up without a restart (a half-replaced pair is not),
 * `/metrics` on its own port checked by `promtool`, the versions, PXE script and cosign key the
 * settings imply, one warning per unimplemented key, and `--log-level`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, test } from "node:test";
import { promisify } from "node:util";
import { loadConfigSources, parseConfigSources } from "../../src/factory/config-sources.js";
import { generateSecureBootKeys, KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { EMPTY_ID, fixturePublicKey, fixtureRelease, startFactory } from "../factory/harness.js";
import { freePort, REPO, startFactoryProcess, type FactoryProcess } from "./factory-process.js";

const run = promisify(execFile);
const CLI = join(REPO, "bin", "image-factory.js");

/** A self-signed certificate for 127.0.0.1 (its own CA, as `curl --cacert` needs). */
async function makeCert(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-days", "2", "-subj", `/CN=${name}`, "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", key, "-out", cert,
  ]); // prettier-ignore
  return { cert, key };
}

/** `curl --cacert ca` of `url`: the body, or the failure. */
async function curl(ca: string, url: string): Promise<{ ok: boolean; body: string; err: string }> {
  try {
    const { stdout } = await run("curl", ["-sS", "--fail", "--max-time", "20", "--cacert", ca, url]);
    return { ok: true, body: stdout, err: "" };
  } catch (e) {
    return { ok: false, body: "", err: (e as { stderr?: string }).stderr ?? String(e) };
  }
}

function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile("promtool", ["check", "metrics"], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== "number") reject(new Error(`promtool: ${err.message}`));
      else resolve({ code: typeof err?.code === "number" ? err.code : 0, output: `${stdout}${stderr}` });
    });
    child.stdin!.end(text);
  });
}

describe("upstream configuration, TLS and the metrics port", () => {
  let dir = "";
  let f: FactoryProcess;
  let port = 0;
  let a: { cert: string; key: string };
  let b: { cert: string; key: string };
  let cachePub = "";
  const tlsCert = () => join(dir, "tls.crt");
  const tlsKey = () => join(dir, "tls.key");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bootforge-upstream-config-"));
    a = await makeCert(dir, "bootforge-a");
    b = await makeCert(dir, "bootforge-b");
    await writeFile(tlsCert(), await readFile(a.cert));
    await writeFile(tlsKey(), await readFile(a.key));
    const cacheKey = join(dir, "cache-signing.key");
    await run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      cacheKey,
    ]);
    cachePub = (await run("openssl", ["pkey", "-in", cacheKey, "-pubout"])).stdout;
    port = await freePort();
    const metricsPort = await freePort();
    // Upstream's key names and structure; only the release location is Bootforge's own (upstream
    // has no layout source), and an unimplemented key sits in the file and the environment.
    const config = join(dir, "config.yaml");
    await writeFile(
      config,
      [
        "http:",
        `  httpListenAddr: 127.0.0.1:${port}`,
        `  certFile: ${tlsCert()}`,
        `  keyFile: ${tlsKey()}`,
        "build:",
        "  minTalosVersion: 1.10.0",
        "containerSignature:",
        `  publicKeyFile: ${await fixturePublicKey()}`,
        "cache:",
        `  signingKeyPath: ${cacheKey}`,
        "  cdn:",
        "    host: https://cdn.example.com",
        "metrics:",
        `  addr: 127.0.0.1:${metricsPort}`,
        "release:",
        "  source: layout",
        `  layout: ${await fixtureRelease()}`,
        "storage:",
        `  dir: ${join(dir, "store")}`,
        "",
      ].join("\n"),
    );
    f = await startFactoryProcess(process.execPath, [CLI, "--config", config, "--log-level", "debug"], {
      ...process.env,
      IF_HTTP_EXTERNALURL: "https://factory.example.com",
      IF_BUILD_MAXCONCURRENCY: "3",
      IF_CACHE_CDN_HOST: "https://cdn2.example.com",
    });
  });
  after(async () => {
    await f?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("listens where httpListenAddr says, over TLS that curl --cacert accepts", async () => {
    assert.equal(f.url, `https://127.0.0.1:${port}`);
    const r = await curl(a.cert, `${f.url}/healthz`);
    assert.ok(r.ok, r.err);
    // Another CA does not vouch for it: the check is real.
    assert.equal((await curl(b.cert, `${f.url}/healthz`)).ok, false);
  });

  it("the settings mean what they mean upstream", async () => {
    const versions = JSON.parse((await curl(a.cert, `${f.url}/versions`)).body) as string[];
    assert.ok(versions.includes("v1.11.0") && versions.includes("v1.12.0"), versions.join(" "));
    assert.ok(!versions.includes("v1.9.0"), "build.minTalosVersion 1.10.0 hides v1.9.0");
    const created = await run("curl", [
      "-sS",
      "--fail",
      "--cacert",
      a.cert,
      "--data-binary",
      "{}",
      `${f.url}/schematics`,
    ]);
    assert.equal((JSON.parse(created.stdout) as { id: string }).id, EMPTY_ID);
    const pxe = await curl(a.cert, `${f.url}/pxe/${EMPTY_ID}/v1.11.0/metal-amd64`);
    assert.ok(pxe.ok, pxe.err);
    assert.match(
      pxe.body,
      /https:\/\/factory\.example\.com\/image\//,
      "IF_HTTP_EXTERNALURL in the PXE script",
    );
    const pub = await curl(a.cert, `${f.url}/oci/cosign/signing-key.pub`);
    assert.equal(pub.body.trim(), cachePub.trim(), "cache.signingKeyPath's public key");
    // The release signature key verifies the release: a kernel builds from the signed imager image.
    const kernel = await run("curl", ["-sS", "--fail", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "300",
      "--cacert", a.cert, `${f.url}/image/${EMPTY_ID}/v1.11.0/kernel-amd64`]); // prettier-ignore
    assert.equal(kernel.stdout, "200");
  });

  it("/metrics is on metrics.addr alone, and promtool accepts it", async () => {
    assert.ok(f.metricsUrl, f.stderr());
    const r = await fetch(`${f.metricsUrl}/metrics`);
    assert.equal(r.status, 200);
    const text = await r.text();
    const { code, output } = await promtool(text);
    assert.equal(code, 0, output);
    assert.match(text, /^bootforge_build_slots 3$/m, "IF_BUILD_MAXCONCURRENCY");
    assert.match(text, /^image_factory_assets_built_total\{/m, "the kernel build is counted");
    assert.equal((await fetch(`${f.metricsUrl}/healthz`)).status, 404);
    const main = await curl(a.cert, `${f.url}/metrics`);
    assert.equal(main.ok, false, "no /metrics on the main port");
    assert.match(main.err, /404/);
  });

  it("a replaced certificate is served without a restart; a half-replaced pair is not", async () => {
    // The certificate alone changes first (the key still A's): the pair does not match, A stays.
    await writeFile(join(dir, "next.crt"), await readFile(b.cert));
    await rename(join(dir, "next.crt"), tlsCert());
    assert.ok((await curl(a.cert, `${f.url}/healthz`)).ok, "the previous pair keeps serving");
    // Log lines are written in batches (within 50 ms).
    const warned = /"level":"warn","msg":"TLS certificate reload failed/;
    for (let i = 0; i < 40 && !warned.test(f.stdout()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(f.stdout(), warned);
    await writeFile(join(dir, "next.key"), await readFile(b.key));
    await rename(join(dir, "next.key"), tlsKey());
    const now = await curl(b.cert, `${f.url}/healthz`);
    assert.ok(now.ok, now.err);
    assert.equal((await curl(a.cert, `${f.url}/healthz`)).ok, false, "the old certificate is gone");
    assert.equal(f.child.exitCode, null, "no restart");
  });

  it("one warning per unimplemented key; --log-level debug logs the start and every request", () => {
    const warnings = f
      .stderr()
      .split("\n")
      .filter((l) => l.includes("warning: configuration key"));
    assert.deepEqual(warnings, [
      "image-factory: warning: configuration key cache.cdn.host: Bootforge serves cached assets itself (no CDN redirects)",
    ]);
    assert.match(
      f.stdout(),
      /"level":"debug","msg":"starting factory","level":"debug"|"level":"debug","msg":"starting factory"/,
    );
    assert.match(f.stdout(), /"level":"info"/);
  });

  it("--log-level warn drops info lines; an unknown level is refused", async () => {
    const quiet = await startFactoryProcess(
      process.execPath,
      [CLI, "--log-level", "warn", "--listen", "127.0.0.1:0", "--storage-dir", join(dir, "quiet"),
        "--release-layout", await fixtureRelease(), "--container-signature-public-key", await fixturePublicKey()], // prettier-ignore
      { ...process.env },
    );
    try {
      assert.equal((await fetch(`${quiet.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${quiet.url}/metrics`)).status, 200, "metrics on the main port by default");
    } finally {
      await quiet.stop();
    }
    assert.doesNotMatch(quiet.stdout(), /"level":"(info|debug)"/);
    const bad = await run(process.execPath, [CLI, "--log-level", "verbose"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal((bad as { code: number }).code, 2);
    assert.match(
      (bad as { stderr: string }).stderr,
      /unrecognized level: "verbose": must be one of \[debug info warn error dpanic panic fatal\]/,
    );
  });
});

test('upstream\'s secureBoot.file.* keys sign with those files; metrics.addr "" turns metrics off', async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-upstream-sb-"));
  try {
    const keys = join(dir, "keys");
    await generateSecureBootKeys(keys, { ukiBits: 2048 });
    const config = join(dir, "config.yaml");
    await writeFile(
      config,
      [
        "secureBoot:",
        "  enabled: true",
        "  file:",
        `    signingKeyPath: ${join(keys, KEY_FILES.ukiSigningKey)}`,
        `    signingCertPath: ${join(keys, KEY_FILES.ukiSigningCert)}`,
        `    pcrKeyPath: ${join(keys, KEY_FILES.pcrSigningKey)}`,
        "metrics:",
        '  addr: ""',
        "",
      ].join("\n"),
    );
    const loaded = await loadConfigSources(parseConfigSources([config]), {});
    assert.deepEqual(loaded.warnings, []);
    const f = await startFactory(
      Object.assign({}, loaded.implied, ...loaded.layers) as Record<string, unknown>,
    );
    try {
      const cert = await fetch(`${f.url}/secureboot/signing-cert.pem`);
      assert.equal(cert.status, 200);
      assert.equal(await cert.text(), await readFile(join(keys, KEY_FILES.ukiSigningCert), "utf8"));
      assert.equal((await fetch(`${f.url}/metrics`)).status, 404);
    } finally {
      await f.stop();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

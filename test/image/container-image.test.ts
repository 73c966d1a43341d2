/**
 * The container image (`npm run image`) end to end: two builds give the same index digest and the
 * same archive bytes; skopeo reads both platforms and the runtime config (non-root user, entry
 * point, labels); the amd64 image, flattened with the project's own flatten and run in bubblewrap
 * with nothing from the host but /proc, /dev and a work directory, serves /healthz and builds a
 * metal ISO from the fixture release, and that ISO boots. The second build also pushes to a
 * loopback registry, whose index skopeo reads back with the same digest.
 *
 * Slow by nature (two image builds of ~85 MiB per architecture, one boot): everything is built
 * once in `before` and shared by the cases.
 */
import { strict as assert } from "node:assert";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { PassThrough, type Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import tar from "tar-stream";
import { extractTar } from "../../src/oci/extract.js";
import { flattenImage } from "../../src/oci/flatten.js";
import { resolveImage } from "../../src/oci/image.js";
import { OciArchive } from "../../src/oci/layout.js";
import { freePort, startRegistry, type TestRegistry } from "../../src/oci/testing/registry.js";
import { boot } from "../qemu/boot.js";
import { EMPTY_ID, fixturePublicKey, fixtureRelease } from "../factory/harness.js";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const VERSION = "v1.11.0";
const SOURCE = "https://example.org/bootforge/bootforge";
const exec = promisify(execFile);

interface Build {
  digest: string;
  stderr: string;
  seconds: number;
}

/** Runs `npm run image -- <args>` (as its script does: tsx on scripts/image/cli.ts). */
async function buildImage(args: string[]): Promise<Build> {
  const started = Date.now();
  const { stdout, stderr } = await exec(
    process.execPath,
    ["--import", "tsx", join(REPO, "scripts", "image", "cli.ts"), "--source", SOURCE, ...args],
    { cwd: REPO, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 },
  ).catch((e: unknown) => {
    const err = e as { stderr?: string; message: string };
    throw new Error(`npm run image failed: ${err.stderr ?? err.message}`);
  });
  return { digest: stdout.trim(), stderr, seconds: (Date.now() - started) / 1000 };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest("hex");
}

interface RuntimeConfig {
  User: string;
  Env: string[];
  Entrypoint: string[];
  Cmd: string[];
  WorkingDir: string;
  Labels: Record<string, string>;
}

/** Waits for `re` on the child's stderr. */
function waitFor(child: ChildProcess, re: RegExp, ms: number, seen: { text: string }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => done(new Error(`no ${re} within ${ms} ms:\n${seen.text}`)), ms);
    const onData = (b: Buffer): void => {
      seen.text += b.toString();
      if (re.test(seen.text)) done();
    };
    const onExit = (code: number | null): void =>
      done(new Error(`the image exited (${code}) early:\n${seen.text}`));
    const done = (e?: Error): void => {
      clearTimeout(timer);
      child.stderr?.off("data", onData);
      child.off("exit", onExit);
      if (e) reject(e);
      else resolvePromise();
    };
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
  });
}

describe("container image (npm run image)", () => {
  let dir = "";
  let first: Build;
  let second: Build;
  let registry: TestRegistry;
  let head = "";
  const archive = (): string => join(dir, "a.tar");

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "bootforge-image-"));
    registry = await startRegistry("none");
    // The commit the builds see (read before them: a commit made meanwhile must not confuse the check).
    head = (await exec("git", ["rev-parse", "HEAD"], { cwd: REPO })).stdout.trim();
    first = await buildImage(["--out", join(dir, "a.tar")]);
    // The second build redoes the assembly (only downloads and stagings are cached) and pushes too.
    second = await buildImage([
      "--out",
      join(dir, "b.tar"),
      "--push",
      `${registry.host}/bootforge:test`,
      "--insecure",
    ]);
    process.stderr.write(
      `container image: builds took ${first.seconds.toFixed(0)} s and ${second.seconds.toFixed(0)} s\n`,
    );
  });
  after(async () => {
    await registry?.stop();
    if (dir !== "") await rm(dir, { recursive: true, force: true });
  });

  it("two builds give the same index digest and the same archive bytes", async () => {
    assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(second.digest, first.digest);
    assert.equal(await sha256File(join(dir, "b.tar")), await sha256File(archive()));
  });

  it("skopeo reads an index of linux/amd64 and linux/arm64 whose digest the build printed", async () => {
    const { stdout } = await exec("skopeo", ["inspect", "--raw", `oci-archive:${archive()}`]);
    assert.equal(`sha256:${createHash("sha256").update(stdout).digest("hex")}`, first.digest);
    const index = JSON.parse(stdout) as {
      mediaType: string;
      manifests: { platform: { architecture: string; os: string } }[];
    };
    assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
    assert.deepEqual(
      index.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`),
      ["linux/amd64", "linux/arm64"],
    );
  });

  it("runs as the non-root bootforge user, image-factory serve by default, with the OCI labels", async () => {
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as {
      version: string;
      license: string;
    };
    for (const arch of ["amd64", "arm64"]) {
      const { stdout } = await exec("skopeo", [
        "inspect",
        "--config",
        "--override-arch",
        arch,
        `oci-archive:${archive()}`,
      ]);
      const config = JSON.parse(stdout) as { architecture: string; config: RuntimeConfig };
      assert.equal(config.architecture, arch);
      const c = config.config;
      assert.equal(c.User, "1000:1000");
      assert.deepEqual(c.Entrypoint, ["/usr/local/bin/image-factory"]);
      assert.deepEqual(c.Cmd, ["serve"]);
      // Reachable from outside the container; state where the bootforge user may write.
      assert.ok(c.Env.includes("BOOTFORGE_HTTP_LISTEN=0.0.0.0:8080"), c.Env.join(" "));
      assert.ok(c.Env.includes("BOOTFORGE_STORAGE_DIR=/var/lib/bootforge"), c.Env.join(" "));
      assert.equal(c.Labels["org.opencontainers.image.source"], SOURCE);
      assert.equal(c.Labels["org.opencontainers.image.version"], pkg.version);
      assert.equal(c.Labels["org.opencontainers.image.revision"], head);
      assert.equal(c.Labels["org.opencontainers.image.licenses"], pkg.license);
    }
  });

  it("the pushed index is the archive's, both platforms and the same digest", async () => {
    const { stdout } = await exec("skopeo", [
      "inspect",
      "--raw",
      "--tls-verify=false",
      `docker://${registry.host}/bootforge:test`,
    ]);
    assert.equal(`sha256:${createHash("sha256").update(stdout).digest("hex")}`, first.digest);
    const { stdout: arm } = await exec("skopeo", [
      "inspect",
      "--tls-verify=false",
      "--override-arch",
      "arm64",
      `docker://${registry.host}/bootforge:test`,
    ]);
    assert.equal((JSON.parse(arm) as { Architecture: string }).Architecture, "arm64");
  });

  it(
    "its amd64 root filesystem alone serves /healthz and builds a metal ISO that boots",
    { timeout: 480_000 },
    async () => {
      // Flatten with the project's own flatten; the tar headers are read on the way for ownership.
      const src = await OciArchive.open(archive());
      const image = await resolveImage(src, "", { architecture: "amd64", os: "linux" });
      const root = join(dir, "root");
      await mkdir(root);
      const flat = flattenImage(image);
      const owners = new Map<string, string>();
      const headers = tar.extract();
      headers.on("entry", (h, stream, next) => {
        owners.set(h.name.replace(/\/$/, ""), `${h.uid}:${h.gid}`);
        stream.on("end", next);
        stream.resume();
      });
      const toExtract = new PassThrough();
      flat.pipe(toExtract);
      flat.pipe(headers as unknown as Writable);
      const [{ entries }] = await Promise.all([
        extractTar(toExtract, root, { decompress: false }),
        new Promise<void>((ok, fail) => headers.on("finish", ok).on("error", fail)),
      ]);
      assert.ok(entries > 1000, `${entries} entries`);
      for (const d of ["out", "secureboot", "var/lib/bootforge", "home/bootforge"])
        assert.equal(owners.get(d), "1000:1000", d);
      assert.equal(owners.get("usr/bin/node"), "0:0");
      assert.match(await readFile(join(root, "etc", "passwd"), "utf8"), /^bootforge:x:1000:1000:/m);

      // The runtime config, as a container runtime applies it.
      const { stdout } = await exec("skopeo", [
        "inspect",
        "--config",
        "--override-arch",
        "amd64",
        `oci-archive:${archive()}`,
      ]);
      const c = (JSON.parse(stdout) as { config: RuntimeConfig }).config;
      const [uid, gid] = c.User.split(":");
      const port = await freePort();
      const env = new Map(c.Env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
      env.set("BOOTFORGE_HTTP_LISTEN", `127.0.0.1:${port}`); // the test shares the network namespace
      env.set("BOOTFORGE_STORAGE_DIR", "/work/storage");
      const work = join(dir, "work");
      await mkdir(work);
      // prettier-ignore
      const sandbox = [
        "--bind", root, "/",
        "--proc", "/proc",
        "--dev", "/dev",
        "--bind", work, "/work",
        "--ro-bind", await fixtureRelease(), "/work/release",
        "--ro-bind", await fixturePublicKey(), "/work/cosign.pub",
        "--unshare-all", "--share-net", "--die-with-parent",
        "--uid", uid!, "--gid", gid!,
        "--clearenv", ...[...env].flatMap(([k, v]) => ["--setenv", k, v]),
        "--chdir", c.WorkingDir,
      ];
      const serve = [
        ...c.Entrypoint,
        ...c.Cmd,
        "--release-layout",
        "/work/release",
        "--container-signature-public-key",
        "/work/cosign.pub",
      ];
      const child = spawn("bwrap", [...sandbox, ...serve], { stdio: ["ignore", "ignore", "pipe"] });
      const stderr = { text: "" };
      try {
        await waitFor(child, /serving at http:\/\/127\.0\.0\.1:\d+/, 60_000, stderr);
        const url = `http://127.0.0.1:${port}`;
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
        assert.equal(
          (await fetch(`${url}/schematics`, { method: "POST", body: "customization: {}" })).status,
          201,
        );
        const res = await fetch(`${url}/image/${EMPTY_ID}/${VERSION}/metal-amd64.iso`, {
          signal: AbortSignal.timeout(300_000),
        });
        assert.equal(res.status, 200, stderr.text);
        const iso = join(dir, "metal-amd64.iso");
        await writeFile(iso, Buffer.from(await res.arrayBuffer()));
        const { facts } = await boot({ arch: "amd64", firmware: "bios", media: { kind: "iso", path: iso } });
        assert.equal(facts.boot, "bios");
        assert.equal(facts.arch, "x86_64");
        assert.equal(facts.version, VERSION);
        assert.match(facts.cmdline ?? "", /talos\.platform=metal/);
        // The imager binary beside the entry point runs from the same root filesystem.
        const imager = await exec(
          "bwrap",
          [
            ...sandbox,
            "/usr/local/bin/imager",
            "metal",
            "--arch",
            "amd64",
            "--talos-version",
            VERSION,
            "--dry-run",
          ],
          { timeout: 120_000 },
        );
        assert.match(imager.stdout, /^arch: amd64$/m);
        assert.match(imager.stdout, /^version: v1\.11\.0$/m);
      } finally {
        child.kill("SIGTERM");
      }
    },
  );
});

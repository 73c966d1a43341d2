/**
 * Test helper: runs Debian's `docker-registry` (CNCF Distribution) on 127.0.0.1 with a temp
 * storage dir — anonymous, behind htpasswd Basic auth, or behind a token service this helper runs.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createSign, randomBytes, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Auth mode of a test registry. */
export type RegistryAuthMode = "none" | "basic" | "token";

/** A running test registry. */
export interface TestRegistry {
  /** `127.0.0.1:<port>`, usable as a reference's registry. */
  host: string;
  /** Username and password accepted in basic and token modes. */
  username: string;
  password: string;
  /** Number of tokens the token service issued (token mode). */
  tokensIssued(): number;
  /** Scopes requested from the token service, in order. */
  tokenScopes(): string[];
  /** Stops the registry (and token service) and removes its storage. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = createNetServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Starts `docker-registry` in the given auth mode and waits until it answers. */
export async function startRegistry(mode: RegistryAuthMode = "none"): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-registry-"));
  const port = await freePort();
  const username = "bootforge";
  const password = "s3cret-" + randomBytes(4).toString("hex");
  let authYaml = "";
  let tokenServer: Server | undefined;
  let issued = 0;
  const scopes: string[] = [];
  if (mode === "basic") {
    await run("htpasswd", ["-Bbc", join(dir, "htpasswd"), username, password]);
    authYaml = `auth:\n  htpasswd:\n    realm: bootforge-test\n    path: ${join(dir, "htpasswd")}\n`;
  } else if (mode === "token") {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=bootforge-token-issuer",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ]);
    const key = await readFile(join(dir, "key.pem"), "utf8");
    const certPem = await readFile(join(dir, "cert.pem"), "utf8");
    const der = new X509Certificate(certPem).raw.toString("base64");
    const tokenPort = await freePort();
    tokenServer = createServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const want = "Basic " + Buffer.from(`${username}:${password}`).toString("base64");
      if (url.pathname !== "/token" || req.headers.authorization !== want) {
        res.writeHead(401, { "content-type": "application/json" }).end('{"error":"unauthorized"}');
        return;
      }
      const access = url.searchParams.getAll("scope").map((s) => {
        scopes.push(s);
        const [type, name, actions] = s.split(":");
        return { type, name, actions: (actions ?? "").split(",") };
      });
      issued++;
      const now = Math.floor(Date.now() / 1000);
      const token = jwt(
        { typ: "JWT", alg: "RS256", x5c: [der] },
        {
          iss: "bootforge-test-issuer",
          sub: username,
          aud: "bootforge-test",
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: randomBytes(8).toString("hex"),
          access,
        },
        key,
      );
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ token, expires_in: 300 }));
    });
    await new Promise<void>((resolve) => tokenServer?.listen(tokenPort, "127.0.0.1", resolve));
    authYaml =
      `auth:\n  token:\n    realm: http://127.0.0.1:${tokenPort}/token\n    service: bootforge-test\n` +
      `    issuer: bootforge-test-issuer\n    rootcertbundle: ${join(dir, "cert.pem")}\n`;
  }
  const config =
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n` +
    `storage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\n` +
    `http:\n  addr: 127.0.0.1:${port}\n  secret: ${randomBytes(16).toString("hex")}\n` +
    authYaml;
  await writeFile(join(dir, "config.yml"), config);
  const child: ChildProcess = spawn("docker-registry", ["serve", join(dir, "config.yml")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => {
    if (stderr.length < 8192) stderr += b.toString();
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    if (tokenServer) await new Promise((resolve) => tokenServer?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/v2/`);
      await r.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`docker-registry did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    host: `127.0.0.1:${port}`,
    username,
    password,
    tokensIssued: () => issued,
    tokenScopes: () => [...scopes],
    stop,
  };
}

function b64url(b: Buffer | string): string {
  return Buffer.from(b).toString("base64url");
}

function jwt(header: object, claims: object, keyPem: string): string {
  const data = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = createSign("RSA-SHA256").update(data).sign(keyPem);
  return `${data}.${b64url(sig)}`;
}

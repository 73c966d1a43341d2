/**
 * `--secureboot-signer-address` and `--pcr-signer-address` end to end: test signer services,
 * built by @grpc/proto-loader from the signer API's schema (`signer-api.proto`) on Unix sockets,
 * hold the keys; the imager CLI signs through them. The UKI they sign is byte-identical to the one
 * signed with the same keys as files (Authenticode and every `.pcrsig`: PKCS#1 v1.5 is
 * deterministic) and passes `sbverify`; a SecureBoot ISO signed through them with Debian's
 * snakeoil key boots under OVMF with Secure Boot enforced. A signer that answers with another
 * key's signatures, a missing socket, a non-unix address and cloud KMS signers are refused with
 * upstream's exit codes and no output. One QEMU boot.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateEncrypt,
  type KeyObject,
  X509Certificate,
} from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ensureFixtureRelease } from "../../fixtures/index.js";
import { parseAuthVariable, parseSignatureLists } from "../../src/imager/secureboot/enrollment.js";
import { KEY_FILES } from "../../src/imager/secureboot/keys.js";
import { loadWellKnownCertificates } from "../../src/imager/secureboot/well-known-certs.js";
import { runImager } from "../helpers/run-imager.js";
import { boot } from "../qemu/boot.js";
import { writeSnakeoilKeysDir } from "../qemu/snakeoil-keys.js";

const REPO = join(import.meta.dirname, "..", "..");
const EPOCH = "1700000000";
const VERSION = "v1.11.0";
const cacheDir = join(REPO, ".cache", "imager-test");

/** DigestInfo prefixes of RFC 8017 §9.2 note 1, by the proto's Hash enum. */
const DIGEST_INFO: Record<string, Buffer> = {
  HASH_SHA256: Buffer.from("3031300d060960864801650304020105000420", "hex"),
  HASH_SHA384: Buffer.from("3041300d060960864801650304020205000430", "hex"),
  HASH_SHA512: Buffer.from("3051300d060960864801650304020305000440", "hex"),
};

interface SignRequest {
  digest: Buffer;
  hash: string;
  scheme: string;
}

/** A running test signer and what it was asked. */
interface TestSigner {
  address: string;
  calls: string[];
  stop(): Promise<void>;
}

const definition = protoLoader.loadSync(join(import.meta.dirname, "signer-api.proto"), {
  enums: String,
  defaults: true,
  keepCase: true,
});
const api = grpc.loadPackageDefinition(definition) as unknown as {
  signerapi: { SignerService: grpc.ServiceClientConstructor };
};

/** Serves `key` (and `certPem`, if any) on a Unix socket; `signWith` defaults to `key`. */
async function startSigner(
  socket: string,
  key: KeyObject,
  certPem: Buffer | undefined,
  signWith: KeyObject = key,
): Promise<TestSigner> {
  const calls: string[] = [];
  const server = new grpc.Server();
  const fail = (cb: grpc.sendUnaryData<unknown>, details: string) =>
    cb({
      code: grpc.status.INVALID_ARGUMENT,
      details,
      name: "",
      message: details,
      metadata: new grpc.Metadata(),
    });
  server.addService(api.signerapi.SignerService.service, {
    GetCertificate: (_: unknown, cb: grpc.sendUnaryData<unknown>) => {
      calls.push("GetCertificate");
      if (!certPem) return fail(cb, "no certificate");
      cb(null, { cert_pem: certPem });
    },
    GetPublicKey: (_: unknown, cb: grpc.sendUnaryData<unknown>) => {
      calls.push("GetPublicKey");
      cb(null, { pub_key_pem: Buffer.from(createPublicKey(key).export({ type: "spki", format: "pem" })) });
    },
    Sign: (call: grpc.ServerUnaryCall<SignRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const { digest, hash, scheme } = call.request;
      calls.push(`Sign ${hash} ${scheme}`);
      const prefix = DIGEST_INFO[hash];
      if (!prefix || scheme !== "SCHEME_RSA_PKCS1V15" || digest.length !== prefix[prefix.length - 1])
        return fail(cb, `cannot sign ${hash} ${scheme} (${digest.length} bytes)`);
      const signature = privateEncrypt(
        { key: signWith, padding: constants.RSA_PKCS1_PADDING },
        Buffer.concat([prefix, digest]),
      );
      cb(null, { signature });
    },
  });
  const address = `unix://${socket}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return {
    address,
    calls,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

let release = "";
let scratch = "";
let keys = "";
let sbSigner: TestSigner;
let pcrSigner: TestSigner;

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-grpc-signer-"));
  keys = join(scratch, "keys");
  await writeSnakeoilKeysDir(keys, new Date(Number(EPOCH) * 1000));
  const ukiKey = createPrivateKey(await readFile(join(keys, KEY_FILES.ukiSigningKey)));
  const cert = await readFile(join(keys, KEY_FILES.ukiSigningCert));
  const pcrKey = createPrivateKey(await readFile(join(keys, KEY_FILES.pcrSigningKey)));
  sbSigner = await startSigner(join(scratch, "sb.sock"), ukiKey, cert);
  pcrSigner = await startSigner(join(scratch, "pcr.sock"), pcrKey, undefined);
});
after(async () => {
  await sbSigner?.stop();
  await pcrSigner?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function imager(args: string[], out: string, stdin?: string) {
  return runImager(args, {
    source: `oci-layout:${release}`,
    version: stdin === undefined ? VERSION : undefined,
    stdin,
    cacheDir,
    out,
    sourceDateEpoch: EPOCH,
  });
}

const remote = () => [
  "--secureboot-signer-address",
  sbSigner.address,
  "--pcr-signer-address",
  pcrSigner.address,
];

test("a UKI signed through the gRPC signers equals the key-file one and verifies with sbverify", async () => {
  const name = "metal-amd64-secureboot-uki.efi";
  const local = join(scratch, "uki-local");
  const viaGrpc = join(scratch, "uki-grpc");
  const a = await imager(["secureboot-metal-uki", "--arch", "amd64", "--secureboot-keys-dir", keys], local);
  assert.equal(a.code, 0, a.stderr);
  sbSigner.calls.length = 0;
  pcrSigner.calls.length = 0;
  const b = await imager(["secureboot-metal-uki", "--arch", "amd64", ...remote()], viaGrpc);
  assert.equal(b.code, 0, b.stderr);
  // The certificate and the public key came from the services, and they signed.
  assert.equal(sbSigner.calls[0], "GetCertificate");
  assert.ok(sbSigner.calls.includes("Sign HASH_SHA256 SCHEME_RSA_PKCS1V15"), sbSigner.calls.join());
  assert.equal(pcrSigner.calls[0], "GetPublicKey");
  for (const h of ["HASH_SHA256", "HASH_SHA384", "HASH_SHA512"])
    assert.ok(pcrSigner.calls.includes(`Sign ${h} SCHEME_RSA_PKCS1V15`), pcrSigner.calls.join());
  const signed = join(viaGrpc, name);
  assert.ok(
    (await readFile(signed)).equals(await readFile(join(local, name))),
    "remote and local UKIs differ",
  );
  execFileSync("sbverify", ["--cert", join(keys, KEY_FILES.ukiSigningCert), signed], { stdio: "ignore" });
});

test("a SecureBoot ISO signed through the gRPC signers boots with Secure Boot enforced", async () => {
  const out = join(scratch, "iso-grpc");
  const r = await imager(
    [
      "secureboot-iso",
      "--arch",
      "amd64",
      ...remote(),
      "--secureboot-include-well-known-certs",
      "--extra-kernel-arg=console=ttyS0",
    ],
    out,
  );
  assert.equal(r.code, 0, r.stderr);
  const iso = join(out, "metal-amd64-secureboot.iso");
  // Its auto-enrollment files, signed through the signer, carry the Microsoft certificates.
  const wellKnown = await loadWellKnownCertificates();
  const cert = await readFile(join(keys, KEY_FILES.ukiSigningCert));
  const own = Buffer.from(new X509Certificate(cert).raw);
  for (const [name, extra] of [
    ["KEK", wellKnown.kek],
    ["db", wellKnown.db],
  ] as const) {
    const file = join(scratch, `${name}.auth`);
    execFileSync(
      "xorriso",
      ["-osirrox", "on", "-indev", iso, "-extract", `/loader/keys/auto/${name}.auth`, file],
      {
        stdio: "ignore",
      },
    );
    const esl = parseAuthVariable(await readFile(file)).data;
    assert.deepEqual(
      parseSignatureLists(esl).flatMap((l) => l.entries.map((e) => e.data)),
      [own, ...extra],
    );
  }
  const { facts } = await boot({
    arch: "amd64",
    firmware: "secureboot-snakeoil",
    media: { kind: "iso", path: iso },
  });
  assert.ok(facts.ok);
  assert.equal(facts.secureboot, "enabled");
});

test("bad signers are refused with upstream's exit codes and leave no output", async () => {
  // A signer whose signatures do not match the certificate it hands out.
  const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const liar = await startSigner(
    join(scratch, "liar.sock"),
    createPrivateKey(await readFile(join(keys, KEY_FILES.ukiSigningKey))),
    await readFile(join(keys, KEY_FILES.ukiSigningCert)),
    stranger,
  );
  try {
    const cases: [string[], number, RegExp][] = [
      [
        ["--secureboot-signer-address", liar.address, "--pcr-signer-address", pcrSigner.address],
        5,
        /does not verify/,
      ],
      [
        ["--secureboot-signer-address", `unix://${join(scratch, "absent.sock")}`],
        5,
        /signer unix:.*absent\.sock.*UNAVAILABLE/,
      ],
      [["--pcr-signer-address", "127.0.0.1:4444"], 2, /must use the unix:\/\/ scheme/],
    ];
    for (const [flags, code, message] of cases) {
      const out = join(scratch, `bad-${code}-${cases.findIndex((c) => c[0] === flags)}`);
      const r = await imager(
        ["secureboot-metal-uki", "--arch", "amd64", "--secureboot-keys-dir", keys, ...flags],
        out,
      );
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stderr, message);
      assert.ok(!existsSync(out) || (await readdir(out)).length === 0, `${out} was left behind`);
    }
  } finally {
    await liar.stop();
  }
  // Cloud KMS signers (a stdin profile names them) stay refused: exit 3, naming the field.
  const profile = `arch: amd64
platform: metal
secureboot: true
version: ${VERSION}
input:
  secureboot:
    secureBootSigner:
      azureVaultURL: https://example.vault.azure.net/
      azureCertificateID: uki
output:
  kind: uki
  outFormat: raw
`;
  const r = await imager(["-"], join(scratch, "azure"), profile);
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stderr,
    /Azure Key Vault and AWS KMS signers are not supported \(secureBootSigner\.azureVaultURL\)/,
  );
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OciLayout } from "../layout.js";
import { parseManifest } from "../media-types.js";
import { sha256Of } from "../digest.js";
import {
  SIGNATURE_ANNOTATION,
  bundleVerifies,
  checkLegacySignature,
  dssePae,
  layoutSignatures,
  parsePayload,
  publicKeyFromPem,
  signPayload,
  signatureImage,
  putSignatureImage,
  signatureTag,
  signaturePayload,
  signingKeyFromPem,
  writeSignature,
} from "./index.js";

const DIGEST = sha256Of("an image manifest");

function ecKey(type: "sec1" | "pkcs8"): string {
  return generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ type, format: "pem" })
    .toString();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "bf-cosign-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("tag and payload are cosign's", () => {
  assert.equal(signatureTag(`sha256:${"ab".repeat(32)}`), `sha256-${"ab".repeat(32)}.sig`);
  assert.equal(
    signaturePayload("ghcr.io/siderolabs/imager", DIGEST).toString(),
    `{"critical":{"identity":{"docker-reference":"ghcr.io/siderolabs/imager"},"image":{"docker-manifest-digest":"${DIGEST}"},"type":"cosign container image signature"},"optional":null}`,
  );
  assert.deepEqual(parsePayload(signaturePayload("r", DIGEST)), { dockerReference: "r", digest: DIGEST });
  assert.throws(() => parsePayload(Buffer.from('{"critical":{"type":"other"}}')), /type/);
});

test("every key format signs and verifies; a wrong key or changed payload does not verify", () => {
  const ed = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();
  const other = signingKeyFromPem(ecKey("pkcs8"));
  for (const pem of [ecKey("sec1"), ecKey("pkcs8"), ed, rsa]) {
    const key = signingKeyFromPem(pem);
    assert.match(key.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
    const pub = publicKeyFromPem(key.publicKeyPem);
    const payload = signaturePayload("example.test/repo", DIGEST);
    const sig = key.sign(payload);
    assert.ok(pub.verify(payload, sig), pub.type);
    assert.ok(!pub.verify(Buffer.concat([payload, Buffer.from(" ")]), sig));
    assert.ok(!other.publicKey.verify(payload, sig));
    assert.ok(!pub.verify(payload, Buffer.from("not a signature")));
  }
  // Ed25519 is deterministic (the fixture release relies on it), ECDSA is not.
  const e = signingKeyFromPem(ed);
  assert.deepEqual(e.sign(Buffer.from("x")), e.sign(Buffer.from("x")));
  assert.throws(() => signingKeyFromPem("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), /encrypted/);
  assert.throws(() => publicKeyFromPem("junk"), /not a PEM public key/);
});

test("openssl verifies our ECDSA payload signatures and we verify openssl's", () =>
  withDir(async (dir) => {
    const pem = ecKey("sec1");
    await writeFile(join(dir, "key.pem"), pem);
    const key = signingKeyFromPem(pem);
    await writeFile(join(dir, "pub.pem"), key.publicKeyPem);
    const signed = signPayload(key, "example.test/repo", DIGEST);
    await writeFile(join(dir, "payload.json"), signed.payload);
    await writeFile(join(dir, "sig.der"), Buffer.from(signed.signature, "base64"));
    const out = execFileSync(
      "openssl",
      ["dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.der", "payload.json"],
      { cwd: dir, encoding: "utf8" },
    );
    assert.match(out, /Verified OK/);
    execFileSync("openssl", ["dgst", "-sha256", "-sign", "key.pem", "-out", "osig.der", "payload.json"], {
      cwd: dir,
    });
    const osig = await readFile(join(dir, "osig.der"));
    assert.ok(key.publicKey.verify(signed.payload, osig));
  }));

test("legacy .sig images in a layout: valid, missing, tampered, wrong key, wrong digest", () =>
  withDir(async (dir) => {
    const layout = await OciLayout.create(dir);
    const key = signingKeyFromPem(ecKey("pkcs8"));
    const src = layoutSignatures(layout, "siderolabs/imager");
    const missing = await checkLegacySignature(src, DIGEST, [key.publicKey]);
    assert.equal(missing.ok, false);
    assert.match(!missing.ok ? missing.reason : "", /no signature .*sha256-.*\.sig is missing/);

    const img = await writeSignature(
      layout,
      key,
      "ghcr.io/siderolabs/imager",
      DIGEST,
      `siderolabs/imager:${signatureTag(DIGEST)}`,
    );
    const m = parseManifest(img.manifest.bytes);
    assert.equal(m.kind, "manifest");
    assert.equal(
      m.kind === "manifest" && m.manifest.layers[0]?.mediaType,
      "application/vnd.dev.cosign.simplesigning.v1+json",
    );
    assert.deepEqual(await checkLegacySignature(src, DIGEST, [key.publicKey]), { ok: true, via: "legacy" });
    // Another repository's name for the same digest is not this repository's signature.
    assert.equal(
      (await checkLegacySignature(layoutSignatures(layout, "siderolabs/other"), DIGEST, [key.publicKey])).ok,
      false,
    );

    const wrong = signingKeyFromPem(ecKey("sec1"));
    assert.equal((await checkLegacySignature(src, DIGEST, [wrong.publicKey])).ok, false);
    assert.equal((await checkLegacySignature(src, DIGEST, [wrong.publicKey, key.publicKey])).ok, true);

    // A signature moved onto another payload (flip the annotation): refused.
    const other = signPayload(key, "ghcr.io/siderolabs/imager", sha256Of("other"));
    const good = signPayload(key, "ghcr.io/siderolabs/imager", DIGEST);
    const swapped = signatureImage([{ payload: good.payload, signature: other.signature }]);
    await putSignatureImage(layout, swapped, `siderolabs/imager:${signatureTag(DIGEST)}`);
    assert.equal((await checkLegacySignature(src, DIGEST, [key.publicKey])).ok, false);

    // A valid signature of a payload naming another digest, placed under this digest's tag.
    const moved = signatureImage([other]);
    await putSignatureImage(layout, moved, `siderolabs/imager:${signatureTag(DIGEST)}`);
    const res = await checkLegacySignature(src, DIGEST, [key.publicKey]);
    assert.match(!res.ok ? res.reason : "", /names sha256:/);
    assert.equal(SIGNATURE_ANNOTATION, "dev.cosignproject.cosign/signature");
  }));

test("DSSE bundles verify only for their subject and key", () => {
  const key = signingKeyFromPem(ecKey("pkcs8"));
  const statement = Buffer.from(
    JSON.stringify({
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ digest: { sha256: DIGEST.slice(7) } }],
      predicateType: "https://sigstore.dev/cosign/sign/v1",
      predicate: {},
    }),
  );
  const type = "application/vnd.in-toto+json";
  const bundle = (sig: Buffer) =>
    Buffer.from(
      JSON.stringify({
        mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json",
        dsseEnvelope: {
          payload: statement.toString("base64"),
          payloadType: type,
          signatures: [{ sig: sig.toString("base64") }],
        },
      }),
    );
  const sig = key.sign(dssePae(type, statement));
  assert.ok(bundleVerifies(bundle(sig), DIGEST, [key.publicKey]));
  assert.ok(!bundleVerifies(bundle(sig), sha256Of("x"), [key.publicKey]));
  assert.ok(!bundleVerifies(bundle(key.sign(statement)), DIGEST, [key.publicKey]));
  assert.ok(!bundleVerifies(Buffer.from("{"), DIGEST, [key.publicKey]));
});

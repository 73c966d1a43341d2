/**
 * Cosign-compatible signing and source verification, checked with independent tools:
 * `skopeo` (containers/image's sigstore verifier, `sigstoreSigned` policy with `keyPath`,
 * registries.d `use-sigstore-attachments`) verifies the installer index the factory signs and a
 * fixture release image through the `/v2/siderolabs` proxy; `openssl dgst -verify` checks the
 * payload signature with the key from `/oci/cosign/signing-key.pub` (upstream's
 * TestRegistryFrontend check). Negative cases: wrong key, tampered, missing signatures.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  signPayload,
  signatureImage,
  putSignatureImage,
  signatureTag,
  signingKeyFromPem,
} from "../../src/oci/cosign/index.js";
import { OciLayout } from "../../src/oci/layout.js";
import { FakePipeline } from "./fake-pipeline.js";
import { EMPTY_ID, fixturePublicKey, startFactory, type TestFactory } from "./harness.js";

const run = promisify(execFile);

interface SigManifest {
  mediaType: string;
  layers: { mediaType: string; digest: string; annotations: Record<string, string> }[];
}

/** A registries.d directory telling containers/image to use cosign's `.sig` attachments for `host`. */
async function registriesD(dir: string, host: string): Promise<string[]> {
  await writeFile(
    join(dir, "registries.yaml"),
    `docker:\n  ${JSON.stringify(host)}:\n    use-sigstore-attachments: true\n`,
  );
  return ["--registries.d", dir];
}

/** A policy.json accepting `host` only with a sigstore signature by `keyPath`. */
async function sigstorePolicy(
  dir: string,
  host: string,
  keyPath: string,
  signedIdentity: Record<string, string> = { type: "matchRepository" },
): Promise<string[]> {
  const policy = {
    default: [{ type: "reject" }],
    transports: {
      docker: { [host]: [{ type: "sigstoreSigned", keyPath, signedIdentity }] },
      dir: { "": [{ type: "insecureAcceptAnything" }] },
    },
  };
  await writeFile(join(dir, "policy.json"), JSON.stringify(policy));
  return ["--policy", join(dir, "policy.json"), ...(await registriesD(dir, host))];
}

/** Debian 12's skopeo carries a patch that disables sigstore policy checks; detect it. */
const SIGSTORE_DISABLED = /sigstore disabled/;

/** One signature as containers/image read it from the registry and stored it with the image. */
interface CopiedSignature {
  payload: Buffer;
  signature: Buffer;
  /** Signed keylessly: the signature carries a Fulcio-style certificate. */
  keyless: boolean;
}

/**
 * `skopeo copy` of `ref` (this platform's instance) into a `dir:` with sigstore attachments on:
 * containers/image finds and parses the `.sig` image and stores each signature beside the
 * manifest (`signature-N`: a 0 byte, `sigstore-json`, then JSON); returns them and the digest
 * of the copied manifest.
 */
async function skopeoSignatures(
  tmp: string,
  host: string,
  ref: string,
): Promise<{ digest: string; sigs: CopiedSignature[] }> {
  const dest = await mkdtemp(join(tmp, "copy-"));
  await writeFile(
    join(dest, "policy.json"),
    JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }),
  );
  const args = ["--policy", join(dest, "policy.json"), ...(await registriesD(dest, host))];
  await run("skopeo", [...args, "copy", "--src-tls-verify=false", `docker://${ref}`, `dir:${dest}/out`], {
    timeout: 300_000,
  });
  const manifest = await readFile(join(dest, "out", "manifest.json"));
  const sigs: CopiedSignature[] = [];
  for (const name of (await readdir(join(dest, "out"))).filter((n) => n.startsWith("signature-")).sort()) {
    const raw = await readFile(join(dest, "out", name));
    const prefix = Buffer.from("\0sigstore-json\n");
    assert.ok(raw.subarray(0, prefix.length).equals(prefix), `${name} is a sigstore signature`);
    const doc = JSON.parse(raw.subarray(prefix.length).toString()) as {
      mimeType: string;
      payload: string;
      annotations: Record<string, string>;
    };
    assert.equal(doc.mimeType, "application/vnd.dev.cosign.simplesigning.v1+json");
    sigs.push({
      payload: Buffer.from(doc.payload, "base64"),
      signature: Buffer.from(doc.annotations["dev.cosignproject.cosign/signature"] ?? "", "base64"),
      keyless: doc.annotations["dev.sigstore.cosign/certificate"] !== undefined,
    });
  }
  return { digest: `sha256:${createHash("sha256").update(manifest).digest("hex")}`, sigs };
}

/** Whether openssl accepts `sig` over `payload` with the PEM public key at `pub`. */
async function opensslVerifies(tmp: string, pub: string, payload: Buffer, sig: Buffer): Promise<boolean> {
  const dir = await mkdtemp(join(tmp, "openssl-"));
  await writeFile(join(dir, "payload"), payload);
  await writeFile(join(dir, "sig"), sig);
  const { stdout: text } = await run("openssl", ["pkey", "-pubin", "-in", pub, "-noout", "-text"]);
  // ECDSA/RSA sign SHA-256 of the payload (dgst); Ed25519 signs the payload itself (pkeyutl -rawin).
  const args = /ED25519/i.test(text)
    ? [
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        pub,
        "-rawin",
        "-in",
        join(dir, "payload"),
        "-sigfile",
        join(dir, "sig"),
      ]
    : ["dgst", "-sha256", "-verify", pub, "-signature", join(dir, "sig"), join(dir, "payload")];
  return run("openssl", args).then(
    () => true,
    () => false,
  );
}

/** The digest a payload signs. */
function signedDigest(payload: Buffer): string {
  return (JSON.parse(payload.toString()) as { critical: { image: { "docker-manifest-digest": string } } })
    .critical.image["docker-manifest-digest"];
}

describe("cache signing: installer indexes", () => {
  let f: TestFactory;
  let tmp = "";
  let host = "";
  const pipeline = new FakePipeline();
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "bootforge-signing-"));
    // An ECDSA P-256 key in SEC1 PEM, made by openssl (what `cosign generate-key-pair` makes, unencrypted).
    await run("openssl", [
      "ecparam",
      "-name",
      "prime256v1",
      "-genkey",
      "-noout",
      "-out",
      join(tmp, "key.pem"),
    ]);
    f = await startFactory({ cache: { signingKeyPath: join(tmp, "key.pem") } }, { pipeline });
    host = f.url.replace(/^http:\/\//, "");
    assert.equal((await fetch(`${f.url}/schematics`, { method: "POST", body: "{}" })).status, 201);
  });
  after(async () => {
    await f.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it("serves the public key at /oci/cosign/signing-key.pub", async () => {
    const r = await fetch(`${f.url}/oci/cosign/signing-key.pub`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "application/x-pem-file");
    const body = await r.text();
    const { stdout } = await run("openssl", ["pkey", "-in", join(tmp, "key.pem"), "-pubout"]);
    assert.equal(body, stdout);
    await writeFile(join(tmp, "signing-key.pub"), body);
  });

  it("skopeo finds the installer's signature; openssl verifies it with that key", async () => {
    const repo = `${host}/metal-installer/${EMPTY_ID}`;
    const { digest, sigs } = await skopeoSignatures(tmp, host, `${repo}:v1.11.0`);
    assert.equal(sigs.length, 1);
    assert.equal(signedDigest(sigs[0]!.payload), digest, "signs the platform manifest skopeo copied");
    assert.ok(await opensslVerifies(tmp, join(tmp, "signing-key.pub"), sigs[0]!.payload, sigs[0]!.signature));
  });

  it("skopeo's sigstoreSigned policy accepts it (where skopeo has sigstore support)", async (t) => {
    const args = await sigstorePolicy(tmp, host, join(tmp, "signing-key.pub"));
    const ref = `docker://${host}/metal-installer/${EMPTY_ID}:v1.11.0`;
    const copy = run("skopeo", [...args, "copy", "--src-tls-verify=false", ref, `dir:${tmp}/policy-copy`], {
      timeout: 300_000,
    });
    const err = await copy.then(
      () => undefined,
      (e: Error & { stderr?: string }) => e.stderr ?? e.message,
    );
    if (err !== undefined && SIGSTORE_DISABLED.test(err)) {
      t.skip("this skopeo is built without sigstore verification (Debian 12 patches it out)");
      return;
    }
    assert.equal(err, undefined);
  });

  it("openssl verifies the payload; it names the index digest and the factory's repository", async () => {
    const head = await fetch(`${f.url}/v2/metal-installer/${EMPTY_ID}/manifests/v1.11.0`, { method: "HEAD" });
    const digest = head.headers.get("docker-content-digest")!;
    const sigUrl = `${f.url}/v2/metal-installer/${EMPTY_ID}/manifests/${signatureTag(digest)}`;
    const sig = await fetch(sigUrl);
    assert.equal(sig.status, 200);
    assert.equal(sig.headers.get("content-type"), "application/vnd.oci.image.manifest.v1+json");
    const m = (await sig.json()) as SigManifest;
    assert.equal(m.layers.length, 1);
    const layer = m.layers[0]!;
    assert.equal(layer.mediaType, "application/vnd.dev.cosign.simplesigning.v1+json");
    const payload = Buffer.from(
      await (await fetch(`${f.url}/v2/metal-installer/${EMPTY_ID}/blobs/${layer.digest}`)).arrayBuffer(),
    );
    const claims = JSON.parse(payload.toString()) as {
      critical: { identity: { "docker-reference": string }; image: { "docker-manifest-digest": string } };
    };
    assert.equal(claims.critical.image["docker-manifest-digest"], digest);
    assert.equal(claims.critical.identity["docker-reference"], `${host}/metal-installer/${EMPTY_ID}`);
    await writeFile(join(tmp, "payload.json"), payload);
    await writeFile(
      join(tmp, "sig.der"),
      Buffer.from(layer.annotations["dev.cosignproject.cosign/signature"]!, "base64"),
    );
    const { stdout } = await run("openssl", [
      "dgst",
      "-sha256",
      "-verify",
      join(tmp, "signing-key.pub"),
      "-signature",
      join(tmp, "sig.der"),
      join(tmp, "payload.json"),
    ]);
    assert.match(stdout, /Verified OK/);
  });

  it("another key does not verify the signature skopeo found", async () => {
    const other = await mkdtemp(join(tmp, "other-"));
    await run("openssl", [
      "ecparam",
      "-name",
      "prime256v1",
      "-genkey",
      "-noout",
      "-out",
      join(other, "k.pem"),
    ]);
    await run("openssl", ["pkey", "-in", join(other, "k.pem"), "-pubout", "-out", join(other, "k.pub")]);
    const { sigs } = await skopeoSignatures(tmp, host, `${host}/metal-installer/${EMPTY_ID}:v1.11.0`);
    assert.equal(
      await opensslVerifies(tmp, join(other, "k.pub"), sigs[0]!.payload, sigs[0]!.signature),
      false,
    );
  });

  it("a tampered signature is not trusted: the index is re-signed on the next pull", async () => {
    const head = await fetch(`${f.url}/v2/metal-installer/${EMPTY_ID}/manifests/v1.11.0`, { method: "HEAD" });
    const digest = head.headers.get("docker-content-digest")!;
    const layout = await OciLayout.open(join(f.dir, "registry"));
    const repo = `metal-installer/${EMPTY_ID}`;
    // Replace the signature with one made by another key.
    const { stdout: pem } = await run("openssl", [
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
    ]);
    const forged = signPayload(signingKeyFromPem(pem), `${host}/${repo}`, digest);
    await putSignatureImage(layout, signatureImage([forged]), `${repo}:${signatureTag(digest)}`);
    const forgedSig = await fetch(`${f.url}/v2/${repo}/manifests/${signatureTag(digest)}`);
    const forgedDigest = forgedSig.headers.get("docker-content-digest");

    // The forged index signature is what a client would now see...
    const before = await fetch(`${f.url}/v2/${repo}/manifests/${signatureTag(digest)}`);
    assert.equal(before.headers.get("docker-content-digest"), forgedDigest);
    // ...until the next pull: the factory re-verifies, finds it bad and signs again.
    const pulled = await fetch(`${f.url}/v2/${repo}/manifests/v1.11.0`);
    assert.equal(pulled.status, 200);
    assert.equal(pulled.headers.get("docker-content-digest"), digest);
    const fixed = await fetch(`${f.url}/v2/${repo}/manifests/${signatureTag(digest)}`, { method: "HEAD" });
    assert.notEqual(fixed.headers.get("docker-content-digest"), forgedDigest, "signature was replaced");
    const m = (await (
      await fetch(`${f.url}/v2/${repo}/manifests/${signatureTag(digest)}`)
    ).json()) as SigManifest;
    const layer = m.layers[0]!;
    const payload = Buffer.from(
      await (await fetch(`${f.url}/v2/${repo}/blobs/${layer.digest}`)).arrayBuffer(),
    );
    const sig = Buffer.from(layer.annotations["dev.cosignproject.cosign/signature"]!, "base64");
    assert.ok(await opensslVerifies(tmp, join(tmp, "signing-key.pub"), payload, sig));
  });
});

describe("fixture release images are signed", () => {
  let f: TestFactory;
  let tmp = "";
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), "bootforge-fixture-sig-"));
    f = await startFactory({}, { pipeline: new FakePipeline() });
  });
  after(async () => {
    await f.stop();
    await rm(tmp, { recursive: true, force: true });
  });

  it("skopeo finds a release image's signature through the /v2/siderolabs proxy; openssl verifies it", async () => {
    const host = f.url.replace(/^http:\/\//, "");
    const { digest, sigs } = await skopeoSignatures(tmp, host, `${host}/siderolabs/installer-base:v1.11.0`);
    // The release signs keylessly (as Sidero does) and, for key-based checks, with the fixture key.
    assert.deepEqual(sigs.map((x) => x.keyless).sort(), [false, true]);
    for (const sig of sigs) {
      const payload = JSON.parse(sig.payload.toString()) as {
        critical: { identity: { "docker-reference": string } };
      };
      // Signed as the release publishes it: the payload names the upstream repository.
      assert.equal(payload.critical.identity["docker-reference"], "ghcr.io/siderolabs/installer-base");
      assert.equal(signedDigest(sig.payload), digest);
    }
    const keyed = sigs.find((x) => !x.keyless)!;
    assert.ok(await opensslVerifies(tmp, await fixturePublicKey(), keyed.payload, keyed.signature));
  });

  it("the public key route answers 404 without a signing key", async () => {
    const r = await fetch(`${f.url}/oci/cosign/signing-key.pub`);
    assert.equal(r.status, 404);
  });

  it("the committed fixture key is what the layout's signatures verify with (openssl, Ed25519)", async () => {
    const layout = await OciLayout.open((f.factory.services.release.location as { dir: string }).dir);
    const desc = await layout.resolve("siderolabs/imager:v1.11.0");
    const sig = await layout.manifest(await layout.resolve(`siderolabs/imager:${signatureTag(desc.digest)}`));
    // The key-signed layer (the keyless one carries a certificate instead).
    const layer = (JSON.parse(sig.bytes.toString()) as SigManifest).layers.find(
      (l) => l.annotations["dev.sigstore.cosign/certificate"] === undefined,
    )!;
    assert.ok(layer, "a key-signed layer");
    const payloadPath = join(tmp, "imager-payload.json");
    await writeFile(payloadPath, await readFile(join(layout.dir, "blobs", ...layer.digest.split(":"))));
    await writeFile(
      join(tmp, "imager.sig"),
      Buffer.from(layer.annotations["dev.cosignproject.cosign/signature"]!, "base64"),
    );
    const { stdout } = await run("openssl", [
      "pkeyutl",
      "-verify",
      "-pubin",
      "-inkey",
      await fixturePublicKey(),
      "-rawin",
      "-in",
      payloadPath,
      "-sigfile",
      join(tmp, "imager.sig"),
    ]);
    assert.match(stdout, /Signature Verified Successfully/);
  });
});

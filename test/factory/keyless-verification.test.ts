/**
 * Keyless verification of release images, as Sidero's are signed: the fixture release, signed by
 * its own test Sigstore instance (Fulcio-style CA, CT log, Rekor log), verifies by identity in the
 * factory and with `image-factory verify`; a signature by another identity, by another issuer,
 * over a payload naming another digest, with a certificate from another CA or with a forged log
 * entry (a SET not made by the log) is refused: 502 naming the image from the factory, exit 5
 * with the reason from the CLI. Without a trusted root for the fixture's instance (the shipped
 * public-good root only) the fixture release is refused too.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  putSignatureImage,
  signatureImage,
  signaturePayload,
  signatureTag,
} from "../../src/oci/cosign/index.js";
import { OciLayout } from "../../src/oci/layout.js";
import {
  authority,
  FIXTURE_SIGNING_IDENTITY,
  FIXTURE_SIGNING_ISSUER,
  keylessAnnotations,
  testSigstore,
  type KeylessSignOptions,
} from "../../fixtures/lib/sigstore.js";
import { FakePipeline } from "./fake-pipeline.js";
import { EMPTY_ID, fixtureKeyless, fixtureRelease, startFactory } from "./harness.js";

const run = promisify(execFile);
const BIN = join(import.meta.dirname, "..", "..", "bin", "image-factory.js");
const IMAGER = "siderolabs/imager:v1.11.0";
const UKI = `/image/${EMPTY_ID}/v1.11.0/metal-amd64-uki.efi`;

let tmp = "";
let epoch = 0;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "bootforge-keyless-"));
  const release = await fixtureRelease();
  epoch = (JSON.parse(await readFile(join(release, "bootforge-fixtures.json"), "utf8")) as { epoch: number })
    .epoch;
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/**
 * A copy of the fixture release (blobs hard-linked, index.json replaced, never written through)
 * whose imager index carries only the keyless signature `sign` makes over `payloadDigest`.
 */
async function releaseWith(
  name: string,
  opts: Partial<KeylessSignOptions> & { payloadDigest?: string },
): Promise<{ dir: string; digest: string }> {
  const dir = join(tmp, name);
  await run("cp", ["-al", await fixtureRelease(), dir]);
  const index = await readFile(join(dir, "index.json"));
  await rm(join(dir, "index.json"));
  await writeFile(join(dir, "index.json"), index);
  const layout = await OciLayout.open(dir);
  const digest = (await layout.resolve(IMAGER)).digest;
  const s = testSigstore(epoch);
  const payload = signaturePayload("ghcr.io/siderolabs/imager", opts.payloadDigest ?? digest);
  const annotations = keylessAnnotations(s, payload, {
    identity: FIXTURE_SIGNING_IDENTITY,
    issuer: FIXTURE_SIGNING_ISSUER,
    logIndex: 9999,
    ...opts,
  });
  const sig = { payload, signature: annotations["dev.cosignproject.cosign/signature"]!, annotations };
  await putSignatureImage(layout, signatureImage([sig]), `siderolabs/imager:${signatureTag(digest)}`);
  return { dir, digest };
}

/** Creates the empty schematic, then asks for the UKI (which needs the imager image). */
async function getUki(url: string): Promise<Response> {
  assert.equal((await fetch(`${url}/schematics`, { method: "POST", body: "{}" })).status, 201);
  return fetch(`${url}${UKI}`);
}

/** `image-factory verify` on the imager of `dir` by the fixture's identity: exit code and output. */
async function cliVerify(
  dir: string,
  extra: string[] = [],
): Promise<{ code: number; out: string; err: string }> {
  const k = await fixtureKeyless();
  try {
    const { stdout, stderr } = await run(process.execPath, [
      BIN,
      "verify",
      `oci:${dir}:${IMAGER}`,
      "--trusted-root",
      k.trustedRootFile,
      "--certificate-identity-regexp",
      k.subjectRegExp,
      "--certificate-oidc-issuer",
      k.issuer,
      ...extra,
    ]);
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

const foreignCa = () =>
  authority(
    generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey,
    "bootforge-fixtures.test",
    "bootforge fixture intermediate",
    epoch,
  );

const REFUSALS: {
  name: string;
  opts: () => Partial<KeylessSignOptions> & { payloadDigest?: string };
  reason: RegExp;
}[] = [
  {
    name: "signed by another identity",
    opts: () => ({ identity: "mallory@bootforge-fixtures.test" }),
    reason: /certificate identity "mallory@bootforge-fixtures\.test" does not match/,
  },
  {
    name: "signed with another OIDC issuer",
    opts: () => ({ issuer: "https://oidc.example.invalid" }),
    reason: /certificate OIDC issuer "https:\/\/oidc\.example\.invalid" does not match/,
  },
  {
    name: "a tampered payload (naming another digest)",
    opts: () => ({ payloadDigest: `sha256:${"0".repeat(64)}` }),
    reason: /the signed payload names sha256:0{64}, not sha256:/,
  },
  {
    name: "a certificate from another CA",
    opts: () => ({ ca: foreignCa() }),
    reason: /CERTIFICATE_ERROR/,
  },
  {
    name: "a forged log entry (SET not made by the log)",
    opts: () => ({ setKey: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey }),
    reason: /TLOG_INCLUSION_PROMISE_ERROR/,
  },
];

describe("keyless verification of the release", () => {
  it("the fixture release verifies by identity: factory serves, CLI prints the signer", async () => {
    const f = await startFactory({}, { pipeline: new FakePipeline() });
    try {
      const r = await getUki(f.url);
      assert.equal(r.status, 200, await r.text());
    } finally {
      await f.stop();
    }
    const res = await cliVerify(await fixtureRelease());
    assert.equal(res.code, 0, res.err);
    const lines = res.out.trim().split("\n");
    assert.equal(lines.length, 1, res.out);
    assert.match(
      lines[0]!,
      new RegExp(
        `siderolabs/imager:v1\\.11\\.0@sha256:[0-9a-f]{64}: verified cosign signature by ${FIXTURE_SIGNING_IDENTITY.replace(/\./g, "\\.")} \\(issuer ${FIXTURE_SIGNING_ISSUER.replace(/\./g, "\\.")}`,
      ),
    );
  });

  for (const c of REFUSALS) {
    it(`refused: ${c.name} (502 naming the image, CLI exit 5)`, async () => {
      const { dir, digest } = await releaseWith(c.name.replace(/\W+/g, "-"), c.opts());
      const f = await startFactory({ release: { layout: dir } }, { pipeline: new FakePipeline() });
      try {
        const r = await getUki(f.url);
        const body = await r.text();
        assert.equal(r.status, 502, body);
        assert.match(
          body,
          new RegExp(`signature verification of ghcr\\.io/siderolabs/imager:v1\\.11\\.0@${digest} failed`),
        );
        assert.match(body, c.reason);
      } finally {
        await f.stop();
      }
      const res = await cliVerify(dir);
      assert.equal(res.code, 5, res.out);
      assert.equal(res.out, "");
      assert.match(res.err, c.reason);
    });
  }

  it("with only the shipped public-good root the fixture release is refused", async () => {
    const f = await startFactory(
      { containerSignature: { trustedRootFile: "", subjectRegExp: ".", issuerRegExp: "." } },
      { pipeline: new FakePipeline() },
    );
    try {
      const r = await getUki(f.url);
      const body = await r.text();
      assert.equal(r.status, 502, body);
      assert.match(body, /CERTIFICATE_ERROR.*trusted root: public-good Sigstore \(shipped\)/);
    } finally {
      await f.stop();
    }
  });

  it("the CLI: the fixture key still verifies (--key), conflicting flags are usage errors", async () => {
    const dir = await fixtureRelease();
    const { FIXTURE_PUBLIC_KEY } = await import("../../fixtures/index.js");
    const { stdout } = await run(process.execPath, [
      BIN,
      "verify",
      `oci:${dir}:${IMAGER}`,
      "--key",
      FIXTURE_PUBLIC_KEY,
    ]);
    assert.match(stdout, /: verified cosign signature by the given key\n$/);
    const both = await cliVerify(dir, ["--certificate-oidc-issuer-regexp", "."]);
    assert.equal(both.code, 2);
    assert.match(both.err, /exclude each other/);
  });
});

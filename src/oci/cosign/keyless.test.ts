/**
 * Keyless verification against the real public-good Sigstore instance, offline: the npm
 * provenance bundle of `@playwright/cli@0.1.1` (test/data/sigstore/README.md) verifies with only the trust
 * root shipped in `@sigstore/tuf`, by its identity, and names the tarball's digest; a flipped
 * byte anywhere that is signed, another identity or issuer, and a foreign root are refused.
 */
import { strict as assert } from "node:assert";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleFromJSON, type Bundle } from "@sigstore/bundle";
import {
  KeylessVerifier,
  loadTrustedRoot,
  loadTrustedRootFile,
  parseTrustedRoot,
  publicGoodTrustedRootJson,
  type KeylessPolicy,
} from "./index.js";

const IDENTITY =
  "^https://github\\.com/microsoft/playwright-cli/\\.github/workflows/publish\\.yml@refs/tags/v0\\.1\\.1$";
const ISSUER = "https://token.actions.githubusercontent.com";
// npm's dist.integrity for @playwright/cli@0.1.1, the digest the provenance statement must name.
const INTEGRITY = "9k11ZfDwAfMVDDIuEVW1Wvs8SoDNXIY1dNQ+9C9/SS8ZmElkcxesu5eoL7vNa96ntibUGaq1TM2qQoqvdl/I9g==";

let raw: Record<string, unknown>;
let tmp = "";
before(async () => {
  const text = await readFile(
    new URL("../../../test/data/sigstore/npm-attestations-playwright-cli-0.1.1.json", import.meta.url),
    "utf8",
  );
  const doc = JSON.parse(text) as {
    attestations: { predicateType: string; bundle: Record<string, unknown> }[];
  };
  const prov = doc.attestations.find((a) => a.predicateType === "https://slsa.dev/provenance/v1");
  assert.ok(prov);
  raw = prov.bundle;
  tmp = await mkdtemp(join(tmpdir(), "bootforge-keyless-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const copy = (): Record<string, unknown> => structuredClone(raw);
const shipped = async (policy: KeylessPolicy = { subjectRegExp: IDENTITY, issuer: ISSUER }) =>
  new KeylessVerifier(await loadTrustedRoot(), policy);

/** Flips one bit of the base64 field at `path` (a chain of keys) in a copy of the bundle. */
function flipped(path: (string | number)[]): Bundle {
  const b = copy();
  let o = b as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const bytes = Buffer.from(o[last] as string, "base64");
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  o[last] = bytes.toString("base64");
  return bundleFromJSON(b);
}

describe("keyless verification against the public-good Sigstore root (offline)", () => {
  it("the real npm provenance bundle verifies by identity and names the tarball's digest", async () => {
    const v = await shipped();
    const bundle = bundleFromJSON(copy());
    const who = v.verifyBundle(bundle);
    assert.match(who.identity, new RegExp(IDENTITY));
    assert.equal(who.issuer, ISSUER);
    assert.equal(who.time?.toISOString(), "2026-02-14T23:28:43.000Z");
    assert.equal(bundle.content.$case, "dsseEnvelope");
    const statement = JSON.parse(
      Buffer.from(
        bundle.content.$case === "dsseEnvelope" ? bundle.content.dsseEnvelope.payload : [],
      ).toString(),
    ) as { subject: { digest: { sha512: string } }[] };
    assert.equal(statement.subject[0]!.digest.sha512, Buffer.from(INTEGRITY, "base64").toString("hex"));
  });

  it("a flipped byte in the payload, the signature, the certificate or the log entry is refused", async () => {
    const v = await shipped();
    const cases: [string, (string | number)[], RegExp][] = [
      ["payload", ["dsseEnvelope", "payload"], /TLOG_BODY_ERROR|SIGNATURE_ERROR/],
      ["signature", ["dsseEnvelope", "signatures", 0, "sig"], /TLOG_BODY_ERROR|SIGNATURE_ERROR/],
      ["certificate", ["verificationMaterial", "certificate", "rawBytes"], /CERTIFICATE_ERROR|Failed/],
      ["log entry", ["verificationMaterial", "tlogEntries", 0, "canonicalizedBody"], /TLOG_/],
      [
        "SET",
        ["verificationMaterial", "tlogEntries", 0, "inclusionPromise", "signedEntryTimestamp"],
        /TLOG_/,
      ],
    ];
    for (const [what, path, reason] of cases) {
      let bundle: Bundle;
      try {
        bundle = flipped(path);
      } catch {
        continue; // a flip that breaks the structure is refused even earlier
      }
      assert.throws(() => v.verifyBundle(bundle), reason, what);
    }
  });

  it("another identity or issuer is refused, an issuer regexp accepted", async () => {
    const bundle = bundleFromJSON(copy());
    const other = await shipped({ subjectRegExp: "@siderolabs\\.com$", issuer: ISSUER });
    assert.throws(() => other.verifyBundle(bundle), /certificate identity .* does not match/);
    const issuer = await shipped({ subjectRegExp: IDENTITY, issuer: "https://accounts.google.com" });
    assert.throws(() => issuer.verifyBundle(bundle), /OIDC issuer .* does not match/);
    const re = await shipped({ subjectRegExp: IDENTITY, issuerRegExp: "^https://token\\.actions\\." });
    assert.equal(re.verifyBundle(bundle).issuer, ISSUER);
  });

  it("a trust root without the public-good CA refuses it", async () => {
    const { testSigstore, trustedRootJson } = await import("../../../fixtures/lib/sigstore.js");
    const foreign = parseTrustedRoot(trustedRootJson(testSigstore(0)), "fixture");
    const v = new KeylessVerifier(foreign, { subjectRegExp: IDENTITY, issuer: ISSUER });
    assert.throws(() => v.verifyBundle(bundleFromJSON(copy())), /TLOG_|CERTIFICATE_ERROR/);
  });

  it("a refreshed trusted_root.json given as a file is used (how the shipped root is updated)", async () => {
    // A newer root is a file the operator drops in (e.g. from `cosign trusted-root` or the
    // TUF repository's trusted_root.json target); here the shipped one, written out.
    const file = join(tmp, "trusted_root.json");
    await writeFile(file, await publicGoodTrustedRootJson());
    const root = await loadTrustedRootFile(file);
    assert.equal(root.source, file);
    const v = new KeylessVerifier(root, { subjectRegExp: IDENTITY, issuer: ISSUER });
    assert.equal(v.verifyBundle(bundleFromJSON(copy())).issuer, ISSUER);
  });

  it("a malformed or missing trust root is invalid input naming the file", async () => {
    const bad = join(tmp, "bad.json");
    await writeFile(bad, JSON.stringify({ mediaType: "application/json" }));
    await assert.rejects(loadTrustedRootFile(bad), (e: Error & { kind?: string }) => {
      assert.equal(e.kind, "invalid-input");
      assert.match(e.message, /bad\.json: mediaType "application\/json" is not a Sigstore trusted root/);
      return true;
    });
    await assert.rejects(loadTrustedRootFile(join(tmp, "missing.json")), /missing\.json: ENOENT/);
    assert.throws(
      () => new KeylessVerifier(parseTrustedRoot("{", "x"), { subjectRegExp: ".", issuer: ISSUER }),
      /trusted root x: not JSON/,
    );
  });
});

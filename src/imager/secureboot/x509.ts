/**
 * X.509 certificates: the few fields CMS needs (issuer, serial) read from DER, and
 * self-signed CA certificates like `talosctl gen secureboot` makes, for test key sets.
 */
import { X509Certificate, createHash, createPublicKey, sign, type KeyObject } from "node:crypto";
import { invalidInput } from "../../errors/index.js";
import {
  bitString,
  bool,
  children,
  ctx,
  int,
  nul,
  octets,
  oid,
  readTlv,
  seq,
  setOf,
  time,
  utf8,
  tlv,
} from "./der.js";

/** sha256WithRSAEncryption AlgorithmIdentifier (with the NULL parameter). */
export const SHA256_WITH_RSA = seq(oid("1.2.840.113549.1.1.11"), nul());

/** A certificate with the raw DER pieces CMS and ESLs reuse. */
export interface Certificate {
  /** The whole certificate, DER. */
  der: Buffer;
  /** Issuer Name, DER. */
  issuer: Buffer;
  /** serialNumber INTEGER, DER (TLV). */
  serial: Buffer;
  /** Subject Name, DER. */
  subject: Buffer;
  /** Node's view, for public key and text fields. */
  x509: X509Certificate;
}

/** Parses a certificate from DER or PEM. */
export function parseCertificate(data: Buffer | string, what = "certificate"): Certificate {
  let der: Buffer;
  const text = typeof data === "string" ? data : data.toString("latin1");
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    der = pemBody(text, "CERTIFICATE", what);
  } else if (typeof data !== "string") {
    der = data;
  } else {
    throw invalidInput(`${what}: not a PEM certificate`);
  }
  try {
    const cert = readTlv(der);
    const tbs = children(children(cert.content)[0]!.content);
    // An explicit [0] version comes first in v3 certificates.
    const i = tbs[0]!.tag === 0xa0 ? 1 : 0;
    return {
      der: Buffer.from(cert.der),
      serial: tbs[i]!.der,
      issuer: tbs[i + 2]!.der,
      subject: tbs[i + 4]!.der,
      x509: new X509Certificate(cert.der),
    };
  } catch (e) {
    throw invalidInput(`${what}: cannot parse X.509 certificate: ${(e as Error).message}`, { cause: e });
  }
}

/** The DER body of the first PEM block of `type` in `text`. */
export function pemBody(text: string, type: string, what: string): Buffer {
  const m = new RegExp(`-----BEGIN ${type}-----([\\s\\S]*?)-----END ${type}-----`).exec(text);
  if (!m) throw invalidInput(`${what}: no PEM ${type} block`);
  return Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
}

/** PEM text of DER bytes (64-column base64, trailing newline, as Go's pem.Encode). */
export function toPem(type: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/** Options of a self-signed CA certificate. */
export interface SelfSignedOptions {
  /** RSA private key; the certificate carries its public half. */
  key: KeyObject;
  commonName: string;
  /** Organization; upstream uses the common name. */
  organization?: string;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
}

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** A self-signed RSA/SHA-256 CA certificate (basicConstraints CA, keyUsage digitalSignature+keyCertSign). */
export function createSelfSignedCertificate(o: SelfSignedOptions): Certificate {
  const spki = createPublicKey(o.key).export({ type: "spki", format: "der" });
  const name = seq(
    setOf(seq(oid("2.5.4.10"), utf8(o.organization ?? o.commonName))),
    setOf(seq(oid("2.5.4.3"), utf8(o.commonName))),
  );
  // subjectPublicKey BIT STRING content (after the unused-bits byte) is what the SKI hashes.
  const spkiBits = children(readTlv(spki).content)[1]!.content.subarray(1);
  const extensions = ctx(
    3,
    seq(
      ext("2.5.29.19", true, seq(bool(true))),
      // digitalSignature (bit 0) + keyCertSign (bit 5): 0x84 with 2 unused trailing bits.
      ext("2.5.29.15", true, tlv(0x03, Buffer.from([0x02, 0x84]))),
      ext("2.5.29.14", false, octets(createHash("sha1").update(spkiBits).digest())),
    ),
  );
  const tbs = seq(
    ctx(0, int(2)),
    int(o.serial),
    SHA256_WITH_RSA,
    name,
    seq(time(o.notBefore), time(o.notAfter)),
    name,
    spki,
    extensions,
  );
  const signature = sign("sha256", tbs, o.key);
  return parseCertificate(seq(tbs, SHA256_WITH_RSA, bitString(signature)));
}

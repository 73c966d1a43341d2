/**
 * PKCS#7/CMS SignedData in the two shapes UEFI uses: Authenticode (SpcIndirectDataContent
 * with authenticated attributes, as go-uefi writes it) and detached, attribute-less
 * signatures for authenticated EFI variables.
 */
import { createHash } from "node:crypto";
import { children, ctx, ctxPrim, int, nul, octets, oid, readTlv, seq, setOf, time, tlv } from "./der.js";
import { hashAlgorithm, type CertificateSigner } from "./signer.js";

/** OIDs used below. */
export const OID = {
  data: "1.2.840.113549.1.7.1",
  signedData: "1.2.840.113549.1.7.2",
  rsaEncryption: "1.2.840.113549.1.1.1",
  contentType: "1.2.840.113549.1.9.3",
  messageDigest: "1.2.840.113549.1.9.4",
  signingTime: "1.2.840.113549.1.9.5",
  spcIndirectDataContent: "1.3.6.1.4.1.311.2.1.4",
  spcPeImageData: "1.3.6.1.4.1.311.2.1.15",
} as const;

const RSA_ENCRYPTION = seq(oid(OID.rsaEncryption), nul());

/** SpcIndirectDataContent for a PE image digest (SHA-256), as a full SEQUENCE. */
export function spcIndirectDataContent(imageDigest: Buffer): Buffer {
  // SpcLink file → "<<<Obsolete>>>" as a BMPString, the value every signer writes.
  const obsolete = Buffer.from("<<<Obsolete>>>", "utf16le").swap16();
  const peImageData = seq(tlv(0x03, Buffer.from([0])), ctx(0, ctx(2, ctxPrim(0, obsolete))));
  return seq(seq(oid(OID.spcPeImageData), peImageData), seq(hashAlgorithm("sha256"), octets(imageDigest)));
}

function attribute(type: string, value: Buffer): Buffer {
  return seq(oid(type), setOf(value));
}

/** Authenticode PKCS#7 (ContentInfo-wrapped) over a PE image digest, signed at `signingTime`. */
export async function signAuthenticode(
  imageDigest: Buffer,
  signer: CertificateSigner,
  signingTime: Date,
): Promise<Buffer> {
  const content = spcIndirectDataContent(imageDigest);
  // The message digest covers the content's value, without its SEQUENCE header.
  const contentDigest = createHash("sha256").update(readTlv(content).content).digest();
  const attrs = [
    attribute(OID.contentType, oid(OID.spcIndirectDataContent)),
    attribute(OID.signingTime, time(signingTime)),
    attribute(OID.messageDigest, octets(contentDigest)),
  ];
  // Signed over the SET OF encoding; stored with the [0] IMPLICIT tag instead.
  const signedAttrs = setOf(...attrs);
  const signature = await signer.signDigest(createHash("sha256").update(signedAttrs).digest(), "sha256");
  const signerInfo = seq(
    int(1),
    seq(signer.certificate.issuer, signer.certificate.serial),
    hashAlgorithm("sha256"),
    ctx(0, ...children(readTlv(signedAttrs).content).map((c) => c.der)),
    RSA_ENCRYPTION,
    octets(signature),
  );
  const signedData = seq(
    int(1),
    setOf(hashAlgorithm("sha256")),
    seq(oid(OID.spcIndirectDataContent), ctx(0, content)),
    ctx(0, signer.certificate.der),
    setOf(signerInfo),
  );
  return seq(oid(OID.signedData), ctx(0, signedData));
}

/** Detached SignedData (no ContentInfo wrapper, no attributes) over `data`: EFI_VARIABLE_AUTHENTICATION_2 CertData. */
export async function signDetachedNoAttributes(data: Buffer, signer: CertificateSigner): Promise<Buffer> {
  const signature = await signer.signDigest(createHash("sha256").update(data).digest(), "sha256");
  const signerInfo = seq(
    int(1),
    seq(signer.certificate.issuer, signer.certificate.serial),
    hashAlgorithm("sha256"),
    RSA_ENCRYPTION,
    octets(signature),
  );
  return seq(
    int(1),
    setOf(hashAlgorithm("sha256")),
    seq(oid(OID.data)),
    ctx(0, signer.certificate.der),
    setOf(signerInfo),
  );
}

/** Wraps a bare SignedData into a ContentInfo (what openssl expects to read). */
export function wrapSignedData(signedData: Buffer): Buffer {
  return seq(oid(OID.signedData), ctx(0, signedData));
}

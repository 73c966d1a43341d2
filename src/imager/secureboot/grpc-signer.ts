/**
 * Client of upstream's out-of-process signer (`api/signer/signer.proto`, service
 * `signerapi.SignerService`, reached over a `unix://` socket as upstream's `signerd` package does):
 * `GetCertificate` gives the SecureBoot signer's PEM certificate (its public key is read from it),
 * `GetPublicKey` the PCR signer's PEM SubjectPublicKeyInfo, and `Sign{digest, hash, scheme}` an
 * RSA PKCS#1 v1.5 signature of a precomputed digest. Every signature is checked against the
 * public key before it is used, so a misbehaving signer fails the build instead of producing
 * media that firmware refuses.
 *
 * The four messages are tiny, so they are encoded here (protobuf wire format: length-delimited
 * bytes fields and varint enums) instead of loading the .proto at run time.
 */
import {
  credentials,
  makeGenericClientConstructor,
  status,
  type Client,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { constants, createPublicKey, publicDecrypt, type KeyObject } from "node:crypto";
import { dependencyError, invalidInput } from "../../errors/index.js";
import { octets, seq } from "./der.js";
import { hashAlgorithm, type CertificateSigner, type DigestSigner, type HashName } from "./signer.js";
import { parseCertificate } from "./x509.js";

/** `Hash` enum values of the proto. */
const HASH_ENUM: Record<HashName, number> = { sha256: 1, sha384: 2, sha512: 3 };
const DIGEST_LENGTH: Record<HashName, number> = { sha256: 32, sha384: 48, sha512: 64 };
/** `Scheme.SCHEME_RSA_PKCS1V15`: the only scheme Authenticode, EFI variables and PCR policies use. */
const SCHEME_RSA_PKCS1V15 = 1;
/** How long one call may take (a hardware token may ask for a touch). */
const CALL_TIMEOUT_MS = 120_000;

// --- protobuf wire format -----------------------------------------------------------------------

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A length-delimited field (wire type 2). */
const bytesField = (field: number, data: Buffer) =>
  Buffer.concat([varint((field << 3) | 2), varint(data.length), data]);
/** A varint field (wire type 0). */
const varintField = (field: number, value: number) => Buffer.concat([varint(field << 3), varint(value)]);

function readVarint(buf: Buffer, at: number): [number, number] {
  let v = 0;
  let mul = 1;
  for (let i = at; i < buf.length && i < at + 10; i++) {
    const b = buf[i]!;
    v += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) return [v, i + 1];
  }
  throw dependencyError("signer: malformed protobuf message (varint)");
}

/** The bytes fields of a message by number (the last occurrence wins, as protobuf says); others skipped. */
export function decodeBytesFields(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let at = 0;
  while (at < buf.length) {
    const [key, next] = readVarint(buf, at);
    at = next;
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        at = readVarint(buf, at)[1];
        break;
      case 1:
        at += 8;
        break;
      case 5:
        at += 4;
        break;
      case 2: {
        const [len, start] = readVarint(buf, at);
        if (start + len > buf.length) throw dependencyError("signer: malformed protobuf message (length)");
        out.set(field, Buffer.from(buf.subarray(start, start + len)));
        at = start + len;
        break;
      }
      default:
        throw dependencyError(`signer: unsupported protobuf wire type ${key & 7}`);
    }
    if (at > buf.length) throw dependencyError("signer: truncated protobuf message");
  }
  return out;
}

/** `SignRequest{digest=1, hash=2, scheme=3}`. */
export function encodeSignRequest(digest: Buffer, hash: HashName): Buffer {
  return Buffer.concat([
    bytesField(1, digest),
    varintField(2, HASH_ENUM[hash]),
    varintField(3, SCHEME_RSA_PKCS1V15),
  ]);
}

const identity = (b: Buffer) => b;
const empty = () => Buffer.alloc(0);
const method = (name: string, requestSerialize: (v: Buffer) => Buffer) => ({
  path: `/signerapi.SignerService/${name}`,
  requestStream: false,
  responseStream: false,
  requestSerialize,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
});

/** The service, with raw message bytes on both sides (encoded and decoded above). */
const SERVICE: ServiceDefinition = {
  GetCertificate: method("GetCertificate", empty),
  GetPublicKey: method("GetPublicKey", empty),
  Sign: method("Sign", identity),
};

type Unary = (
  req: Buffer,
  opts: { deadline: Date },
  cb: (err: ServiceError | null, res?: Buffer) => void,
) => void;

/** One connection to a signer service. */
class SignerConnection {
  readonly #client: Client;
  readonly #address: string;

  constructor(address: string, what: string) {
    // Upstream dials only Unix sockets: the signer holds the key and must not listen on a network.
    if (!address.startsWith("unix://"))
      throw invalidInput(`${what} signer address "${address}" must use the unix:// scheme`);
    this.#address = address;
    const Ctor = makeGenericClientConstructor(SERVICE, "SignerService");
    this.#client = new Ctor(address, credentials.createInsecure());
  }

  call(name: "GetCertificate" | "GetPublicKey" | "Sign", req: Buffer): Promise<Buffer> {
    const fn = (this.#client as unknown as Record<string, Unary>)[name]!.bind(this.#client);
    return new Promise((resolve, reject) => {
      fn(req, { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) }, (err, res) => {
        if (err) {
          const code = (status as Record<number, string>)[err.code] ?? String(err.code);
          reject(
            dependencyError(`signer ${this.#address}: ${name}: ${code}: ${err.details}`, { cause: err }),
          );
        } else resolve(res ?? Buffer.alloc(0));
      });
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** A remote signer: a digest signer that must be closed when the build is done. */
export type RemoteSigner<T extends DigestSigner> = T & { close(): void };

function pemField(res: Buffer, what: string): Buffer {
  const pem = decodeBytesFields(res).get(1);
  if (!pem || pem.length === 0) throw dependencyError(`signer returned no ${what}`);
  return pem;
}

function digestSigner(conn: SignerConnection, publicKey: KeyObject): DigestSigner {
  if (publicKey.asymmetricKeyType !== "rsa")
    throw dependencyError(`signer key must be RSA, got ${publicKey.asymmetricKeyType ?? "unknown"}`);
  const modulusBytes = Math.ceil((publicKey.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
  return {
    publicKey,
    async signDigest(digest, hash) {
      if (digest.length !== DIGEST_LENGTH[hash])
        throw invalidInput(`a ${hash} digest has ${DIGEST_LENGTH[hash]} bytes`);
      const res = await conn.call("Sign", encodeSignRequest(digest, hash));
      const signature = decodeBytesFields(res).get(1) ?? Buffer.alloc(0);
      // PKCS#1 v1.5 verification: the public operation must give back exactly our DigestInfo.
      let recovered: Buffer | undefined;
      if (signature.length === modulusBytes) {
        try {
          recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
        } catch {
          recovered = undefined;
        }
      }
      if (!recovered?.equals(seq(hashAlgorithm(hash), octets(digest))))
        throw dependencyError(
          `signer returned a signature (${signature.length} bytes) that does not verify with its public key`,
        );
      return signature;
    },
  };
}

/** The SecureBoot signer at `address`: certificate from `GetCertificate`, signatures from `Sign`. */
export async function grpcCertificateSigner(address: string): Promise<RemoteSigner<CertificateSigner>> {
  const conn = new SignerConnection(address, "SecureBoot");
  try {
    const pem = pemField(await conn.call("GetCertificate", Buffer.alloc(0)), "certificate");
    const certificate = parseCertificate(pem, `certificate from signer ${address}`);
    return { ...digestSigner(conn, certificate.x509.publicKey), certificate, close: () => conn.close() };
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** The PCR signer at `address`: public key from `GetPublicKey`, signatures from `Sign`. */
export async function grpcDigestSigner(address: string): Promise<RemoteSigner<DigestSigner>> {
  const conn = new SignerConnection(address, "PCR");
  try {
    const pem = pemField(await conn.call("GetPublicKey", Buffer.alloc(0)), "public key");
    let publicKey: KeyObject;
    try {
      publicKey = createPublicKey({ key: pem, format: "pem" });
    } catch (e) {
      throw dependencyError(`signer ${address}: cannot parse its public key: ${(e as Error).message}`, {
        cause: e,
      });
    }
    return { ...digestSigner(conn, publicKey), close: () => conn.close() };
  } catch (e) {
    conn.close();
    throw e;
  }
}

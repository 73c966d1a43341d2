/**
 * Builds and writes the signature image of a manifest digest: an OCI manifest whose layers are
 * simple-signing payloads (annotated with their signatures) over a config shaped like the one
 * cosign's go-containerregistry base image produces. Tagged `sha256-<hex>.sig` next to the image.
 */
import { Readable } from "node:stream";
import type { ManifestData } from "../client.js";
import { sha256Of } from "../digest.js";
import { MediaTypes, type Descriptor } from "../media-types.js";
import type { ImageSink } from "../source.js";
import { SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, signaturePayload, signatureTag } from "./format.js";
import type { SigningKey } from "./keys.js";

/** One signed payload. */
export interface SignedPayload {
  payload: Buffer;
  /** Base64 (standard alphabet) signature of `payload`. */
  signature: string;
  /** Further layer annotations (a keyless signature's certificate, chain and Rekor bundle). */
  annotations?: Record<string, string>;
}

/** A signature image: manifest plus the blobs it references. */
export interface SignatureImage {
  manifest: ManifestData;
  blobs: { desc: Descriptor; bytes: Buffer }[];
}

// go-containerregistry's empty image has zero times; cosign keeps them unless asked to record one.
const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Signs the payload for `digest` claimed as `dockerReference` (the repository, without tag). */
export function signPayload(key: SigningKey, dockerReference: string, digest: string): SignedPayload {
  const payload = signaturePayload(dockerReference, digest);
  return { payload, signature: key.sign(payload).toString("base64") };
}

/** Assembles the signature image holding `sigs` (one layer each, in order). */
export function signatureImage(sigs: readonly SignedPayload[]): SignatureImage {
  const layers: Descriptor[] = sigs.map((s) => ({
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    size: s.payload.length,
    digest: sha256Of(s.payload),
    annotations: { ...s.annotations, [SIGNATURE_ANNOTATION]: s.signature },
  }));
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: "",
      created: ZERO_TIME,
      history: layers.map(() => ({ created: ZERO_TIME })),
      os: "",
      rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) },
      config: {},
    }),
  );
  const config: Descriptor = {
    mediaType: MediaTypes.ociConfig,
    size: configBytes.length,
    digest: sha256Of(configBytes),
  };
  const bytes = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociManifest, config, layers }),
  );
  return {
    manifest: { bytes, mediaType: MediaTypes.ociManifest, digest: sha256Of(bytes) },
    blobs: [
      { desc: config, bytes: configBytes },
      ...sigs.map((s, i) => ({ desc: layers[i]!, bytes: s.payload })),
    ],
  };
}

/**
 * Signs `digest` with `key` and writes the signature image into `sink` under `tag` (default:
 * the bare `sha256-<hex>.sig`; layouts name it `<repo>:sha256-<hex>.sig`). A previous signature
 * under that tag is replaced: ours are re-made whenever the entry is, so old ones carry nothing.
 */
export async function writeSignature(
  sink: ImageSink,
  key: SigningKey,
  dockerReference: string,
  digest: string,
  tag = signatureTag(digest),
): Promise<SignatureImage> {
  const img = signatureImage([signPayload(key, dockerReference, digest)]);
  await putSignatureImage(sink, img, tag);
  return img;
}

/** Writes a prepared signature image under `tag`. */
export async function putSignatureImage(sink: ImageSink, img: SignatureImage, tag: string): Promise<void> {
  for (const b of img.blobs) {
    if (await sink.hasBlob(b.desc)) continue;
    await sink.putBlob(b.desc, () => Promise.resolve(Readable.from([b.bytes])));
  }
  await sink.putManifest(img.manifest, { root: true, tag });
}

/**
 * Flattens an image to its filesystem as one tar stream, like `crane export`: layers are read
 * top-down, the first (topmost) version of a path wins, whiteouts (`.wh.<name>`) delete lower
 * entries and opaque markers (`.wh..wh..opq`) hide a directory's lower contents.
 */
import { PassThrough, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type { Header } from "tar-stream";
import { BootforgeError } from "../errors/index.js";
import { decompress } from "./compression.js";
import type { ResolvedImage } from "./image.js";
import { normalize } from "./tar-index.js";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** The flattened filesystem of `image` as an (uncompressed) tar stream. */
export function flattenImage(image: ResolvedImage): Readable {
  const out = new PassThrough();
  const pack = tar.pack();
  pack.on("error", (e: Error) => out.destroy(e));
  (pack as unknown as Readable).pipe(out);
  void writeFlattened(image, pack).catch((e: unknown) => {
    pack.destroy(e as Error);
    out.destroy(e as Error);
  });
  return out;
}

async function writeFlattened(image: ResolvedImage, pack: tar.Pack): Promise<void> {
  // true = hides everything below it (a file, symlink or whiteout); false = a directory seen.
  const seen = new Map<string, boolean>();
  const opaque = new Set<string>();
  const hidden = (p: string): boolean => {
    for (let i = p.lastIndexOf("/"); i > 0; i = p.lastIndexOf("/", i - 1)) {
      const parent = p.slice(0, i);
      if (seen.get(parent) === true || opaque.has(parent)) return true;
    }
    return false;
  };
  const layers = [...image.manifest.layers].reverse();
  for (const layer of layers) {
    try {
      await flattenLayer(layer, image, pack, seen, opaque, hidden);
    } catch (e) {
      throw layerError(layer.digest, e);
    }
  }
  pack.finalize();
}

/**
 * A layer's failure as a BootforgeError naming the layer: the tar parser's own errors (a bad
 * header checksum, a layer that is not tar) refuse the image; zlib's, met while an entry's data
 * is copied, are a corrupt gzip layer as `decompress` reports it. A reader that went away
 * (premature close) has its own error to tell and is passed on as it is.
 */
function layerError(digest: string, e: unknown): unknown {
  if (e instanceof BootforgeError || !(e instanceof Error)) return e;
  const code = (e as NodeJS.ErrnoException).code ?? "";
  if (code === "ERR_STREAM_PREMATURE_CLOSE") return e;
  if (code.startsWith("Z_"))
    return new BootforgeError("io", `corrupt gzip layer ${digest}: ${e.message}`, { cause: e });
  return new BootforgeError("invalid-input", `layer ${digest} is not a valid tar archive: ${e.message}`, {
    cause: e,
  });
}

/** Copies one layer's entries that no upper layer hid into `pack`. */
async function flattenLayer(
  layer: ResolvedImage["manifest"]["layers"][number],
  image: ResolvedImage,
  pack: tar.Pack,
  seen: Map<string, boolean>,
  opaque: Set<string>,
  hidden: (p: string) => boolean,
): Promise<void> {
  const layerOpaque: string[] = [];
  const ex = tar.extract();
  const src = decompress(await image.source.blob(layer));
  const feeding = pipeline(src, ex as unknown as Writable);
  // When the loop below fails first, this rejection is the same failure: awaited there, not here.
  feeding.catch(() => undefined);
  for await (const entry of ex) {
    const h = entry.header;
    const path = normalize(h.name);
    const slash = path.lastIndexOf("/");
    const dir = slash < 0 ? "" : path.slice(0, slash);
    const base = path.slice(slash + 1);
    if (path === "" || base === "..") {
      entry.resume();
      continue;
    }
    if (base === OPAQUE) {
      layerOpaque.push(dir);
      entry.resume();
      continue;
    }
    if (base.startsWith(WHITEOUT)) {
      const target = (dir ? `${dir}/` : "") + base.slice(WHITEOUT.length);
      if (!seen.has(target) && !hidden(target)) seen.set(target, true);
      entry.resume();
      continue;
    }
    if (seen.has(path) || hidden(path)) {
      entry.resume();
      continue;
    }
    seen.set(path, h.type !== "directory");
    await copyEntry(
      pack,
      { ...h, name: h.type === "directory" ? `${path}/` : path },
      entry as unknown as Readable,
    );
  }
  await feeding;
  // Opaque markers hide lower layers only, never siblings in their own layer.
  for (const d of layerOpaque) opaque.add(d);
}

/** tar-stream's extract header: the decoded PAX records ride along (missing from @types/tar-stream). */
type PaxHeader = Header & { pax?: Record<string, string> | null };

/** PAX record prefixes of extended attributes (GNU/star, libarchive), e.g. SELinux labels. */
const XATTR_RECORDS = ["SCHILY.xattr.", "LIBARCHIVE.xattr."];

/**
 * The extended-attribute records of an entry's PAX header, or undefined when it has none.
 * `path`, `linkpath` and `size` are left out because tar-stream writes them from the header
 * again (with the normalised name). tar-stream decodes PAX values as UTF-8, so a binary value
 * (e.g. `security.capability`) arrives with U+FFFD replacements: such a record is dropped rather
 * than written back corrupted. Text labels like `security.selinux` pass unchanged.
 */
export function xattrRecords(
  pax: Record<string, string> | null | undefined,
): Record<string, string> | undefined {
  if (!pax) return undefined;
  const kept = Object.entries(pax).filter(
    ([k, v]) => XATTR_RECORDS.some((p) => k.startsWith(p)) && !v.includes("\uFFFD"),
  );
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

function copyEntry(pack: tar.Pack, h: Header, data: Readable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // Extension layers record SELinux labels as PAX xattrs: they must survive the flattening.
    const pax = xattrRecords((h as PaxHeader).pax);
    const header = { ...h, pax };
    if (h.type === "file" || h.type === "contiguous-file") {
      const sink = pack.entry({ ...header, type: "file" }, (e) => (e ? reject(e) : resolve()));
      // The pack destroys the entry's sink when the flattening fails (a corrupt layer, a reader
      // that gave up): handled here, or the process dies of an unhandled 'error' event.
      (sink as unknown as Writable).on("error", reject);
      data.on("error", reject);
      data.pipe(sink as unknown as Writable);
    } else {
      data.resume();
      pack.entry(header, (e) => (e ? reject(new BootforgeError("io", `flatten: ${e.message}`)) : resolve()));
    }
  });
}

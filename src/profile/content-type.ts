/**
 * Content-Type of a served asset by its file name (upstream image-factory `mime.ContentType`):
 * a few boot-asset types by the last extension, then Go's built-in table, else octet-stream.
 */

const FACTORY_TYPES: Readonly<Record<string, string>> = {
  ".efi": "application/efi",
  ".iso": "application/x-iso9660-image",
  ".xz": "application/x-xz",
  ".gz": "application/gzip",
  ".qcow2": "application/x-qemu-disk",
};

// Go's `mime` built-in table. The upstream container has no OS mime database, so nothing else
// (not `.tar`, `.zst`, `.raw`) gets a specific type.
const GO_BUILTIN_TYPES: Readonly<Record<string, string>> = {
  ".avif": "image/avif",
  ".css": "text/css; charset=utf-8",
  ".gif": "image/gif",
  ".htm": "text/html; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".jpeg": "image/jpeg",
  ".jpg": "image/jpeg",
  ".js": "text/javascript; charset=utf-8",
  ".json": "application/json",
  ".mjs": "text/javascript; charset=utf-8",
  ".pdf": "application/pdf",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
  ".wasm": "application/wasm",
  ".webp": "image/webp",
  ".xml": "text/xml; charset=utf-8",
};

/** The last extension as Go's `filepath.Ext` sees it (from the last dot of the last element). */
function goExt(name: string): string {
  for (let i = name.length - 1; i >= 0 && name[i] !== "/"; i--) {
    if (name[i] === ".") return name.slice(i);
  }
  return "";
}

/** The Content-Type the factory sends for an asset file name. */
export function contentTypeOf(filename: string): string {
  const ext = goExt(filename);
  if (ext === "") return "application/octet-stream";
  if (Object.hasOwn(FACTORY_TYPES, ext)) return FACTORY_TYPES[ext]!;
  const lower = ext.toLowerCase();
  const known = Object.hasOwn(GO_BUILTIN_TYPES, ext)
    ? GO_BUILTIN_TYPES[ext]
    : Object.hasOwn(GO_BUILTIN_TYPES, lower)
      ? GO_BUILTIN_TYPES[lower]
      : undefined;
  return known ?? "application/octet-stream";
}

/**
 * A small deterministic boot splash for the UKI `.splash` section, drawn in code so no
 * image asset has to be shipped (systemd-stub shows 24-bit uncompressed BMPs).
 */

/** Encodes a 24-bit bottom-up BMP from an RGB pixel function. */
export function encodeBmp24(
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number],
): Buffer {
  const rowSize = Math.ceil((width * 3) / 4) * 4;
  const dataSize = rowSize * height;
  const buf = Buffer.alloc(54 + dataSize);
  buf.write("BM", 0, "latin1");
  buf.writeUInt32LE(buf.length, 2);
  buf.writeUInt32LE(54, 10); // pixel data offset
  buf.writeUInt32LE(40, 14); // BITMAPINFOHEADER
  buf.writeInt32LE(width, 18);
  buf.writeInt32LE(height, 22);
  buf.writeUInt16LE(1, 26); // planes
  buf.writeUInt16LE(24, 28); // bits per pixel
  buf.writeUInt32LE(0, 30); // BI_RGB
  buf.writeUInt32LE(dataSize, 34);
  buf.writeInt32LE(2835, 38); // 72 DPI
  buf.writeInt32LE(2835, 42);
  for (let y = 0; y < height; y++) {
    const row = 54 + (height - 1 - y) * rowSize;
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      buf[row + 3 * x] = b;
      buf[row + 3 * x + 1] = g;
      buf[row + 3 * x + 2] = r;
    }
  }
  return buf;
}

// Encoded once per process: every UKI of a running factory carries the same splash.
let splash: Buffer | undefined;

/** Bootforge's splash: a 128×128 dark tile with an orange anvil-like bar, always the same bytes. */
export function bootforgeSplash(): Buffer {
  const size = 128;
  splash ??= encodeBmp24(size, size, (x, y) => {
    const inBar = y >= 52 && y < 76 && x >= 24 && x < 104;
    const inFoot = y >= 76 && y < 100 && x >= 52 && x < 76;
    if (inBar || inFoot) return [0xf2, 0x6b, 0x1d];
    const shade = 0x18 + ((x + y) >> 4);
    return [shade, shade, shade + 8];
  });
  // A copy: callers own the Buffer they get.
  return Buffer.from(splash);
}

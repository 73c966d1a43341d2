/** Reads a request body up to a limit, so oversized uploads are refused without buffering them. */
import { BootforgeError } from "../../errors/index.js";

/** The body bytes; a body over `limit` bytes is a `too-large` error (HTTP 413). */
export async function readBodyLimited(req: Request, limit: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  const tooLarge = () => new BootforgeError("too-large", `${what} is larger than ${limit} bytes`);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  if (req.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = req.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks);
}

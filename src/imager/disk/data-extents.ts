/**
 * Where a sparse file keeps its data: the regions lseek(SEEK_DATA / SEEK_HOLE) reports, read
 * through `xfs_io -c "seek -a -r 0"` (xfsprogs; Node has no SEEK_DATA). Holes always read as
 * zeros, so callers may skip them without reading; regions reported as data may still be zeros
 * (preallocated, or written as zeros), so callers that care about content check it themselves.
 * A filesystem without SEEK_DATA support answers with the whole file as data (the kernel's
 * generic lseek), and any failure to get an answer is reported as "unknown" — callers then read
 * the whole file, which is slower but gives the same result.
 */
import { lookupTool } from "../tools/registry.js";
import { run } from "../tools/run.js";

/** A byte range of a file: `[offset, offset + length)`. */
export interface Extent {
  offset: number;
  length: number;
}

/** The whole file as one data extent (what "no hole information" amounts to). */
export const wholeFile = (size: number): Extent[] => (size > 0 ? [{ offset: 0, length: size }] : []);

/**
 * Data extents of the `size`-byte file `path`, sorted and disjoint, or undefined when they cannot
 * be found (xfs_io missing or failing, unexpected output). Only an abort is thrown.
 */
export async function dataExtents(
  path: string,
  size: number,
  options: { signal?: AbortSignal } = {},
): Promise<Extent[] | undefined> {
  if (size === 0) return [];
  if (lookupTool("xfs_io") === undefined) return undefined;
  let stdout: string;
  try {
    // -r: open read-only; seek -a: report data and holes, -r: from each result onwards, until EOF.
    const r = await run("xfs_io", ["-r", "-c", "seek -a -r 0", "--", path], {
      ...(options.signal ? { signal: options.signal } : {}),
    });
    stdout = r.stdout.toString("utf8");
  } catch (e) {
    if (options.signal?.aborted) throw e;
    return undefined;
  }
  return parseSeekOutput(stdout, size);
}

/**
 * Parses xfs_io's `seek -a -r` table (`Whence\tResult`, then one `DATA <offset>` or `HOLE <offset>`
 * line per region start, in order) into the data extents of a `size`-byte file. Each region runs
 * to the next line's offset, the last one to the end of the file. Undefined when the output does
 * not have that shape.
 */
export function parseSeekOutput(stdout: string, size: number): Extent[] | undefined {
  const lines = stdout.split("\n").filter((l) => l.trim() !== "");
  if (lines.length < 2 || !/^Whence\s+Result$/.test(lines[0]!.trim())) return undefined;
  const starts: { data: boolean; offset: number }[] = [];
  for (const line of lines.slice(1)) {
    const m = /^(DATA|HOLE)\s+(\d+|EOF)$/.exec(line.trim());
    if (!m) return undefined;
    // "DATA EOF": no data at or after the start (an empty file)
    if (m[2] === "EOF") continue;
    const offset = Number(m[2]);
    const previous = starts.at(-1);
    if (!Number.isSafeInteger(offset) || offset > size) return undefined;
    if (previous !== undefined && offset <= previous.offset) return undefined;
    starts.push({ data: m[1] === "DATA", offset });
  }
  if (starts.length === 0) return undefined;
  // The first region starts at 0 (that is where the search started).
  if (starts[0]!.offset !== 0) return undefined;
  const extents: Extent[] = [];
  starts.forEach((s, i) => {
    const end = starts[i + 1]?.offset ?? size;
    if (!s.data || end <= s.offset) return;
    const last = extents.at(-1);
    if (last !== undefined && last.offset + last.length === s.offset) last.length += end - s.offset;
    else extents.push({ offset: s.offset, length: end - s.offset });
  });
  return extents;
}

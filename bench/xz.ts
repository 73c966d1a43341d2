/**
 * Bench: `.xz` output compression. The metal `image` kind has not landed on main yet, so this
 * measures `compressFile(raw, out, ".xz")` (src/imager/disk/compress.ts, the imager's post-step)
 * against `xz -0 -T0` run directly on the same file, on a generated sparse raw disk (1 GiB with
 * 64 MiB of mixed data in four places, like a mostly empty disk image). Target ≤ 1.15×. Also the
 * compressing process's peak RSS (target < 300 MiB), and that Bootforge's output decompresses to
 * the raw file. (Until sparse-aware compression both outputs were byte-identical; compressFile now
 * writes concatenated xz streams, skips zero chunks and lands far below 1×; bench/disk-compress.ts
 * measures that on the metal image.)
 *
 *   node --import tsx bench/xz.ts   (BENCH_XZ_MIB=1024)
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { machine, measure, report } from "./lib/common.js";

const REPO = join(import.meta.dirname, "..");
const MIB = Number(process.env.BENCH_XZ_MIB ?? 1024);

const work = await mkdtemp(join(tmpdir(), "bootforge-bench-xz-"));
try {
  // Sparse file; data regions: half random (incompressible), half repetitive text.
  const raw = join(work, "disk.raw");
  const fh = await open(raw, "w");
  await fh.truncate(MIB * 2 ** 20);
  for (let region = 0; region < 4; region++) {
    const offset = Math.floor((region * MIB) / 4) * 2 ** 20 + 2 ** 20;
    for (let i = 0; i < 16; i++) {
      const chunk =
        i % 2 === 0
          ? randomBytes(2 ** 20)
          : Buffer.from(`block ${region}/${i} of a talos disk\n`.repeat(30_000)).subarray(0, 2 ** 20);
      await fh.write(chunk, 0, chunk.length, offset + i * 2 ** 20);
    }
  }
  await fh.close();
  const used = (await stat(raw)).blocks * 512;

  const direct = join(work, "direct.xz");
  const ours = join(work, "ours.xz");
  // Same settings as compressFile: -0, threads auto (multi-threaded block format).
  const runXz = () => measure("bash", ["-c", `xz -0 -T0 -c "$0" > "$1"`, raw, direct]);
  const runOurs = () =>
    measure(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import(${JSON.stringify(join(REPO, "src", "imager", "disk", "compress.ts"))})` +
          `.then((m) => m.compressFile(process.argv[1], process.argv[2], ".xz"))`,
        raw,
        ours,
      ],
      { cwd: REPO },
    );
  // Two alternating rounds, best of each: the machine is shared, the minimum is the least noisy.
  const xs = [];
  const bs = [];
  for (let i = 0; i < 2; i++) {
    xs.push(await runXz());
    bs.push(await runOurs());
  }
  if (xs.some((r) => r.code !== 0)) throw new Error(`xz failed: ${xs.map((r) => r.stderr).join("")}`);
  if (bs.some((r) => r.code !== 0))
    throw new Error(`compressFile failed: ${bs.map((r) => r.stderr).join("")}`);
  const x = xs.reduce((a, r) => (r.seconds < a.seconds ? r : a));
  const b = bs.reduce((a, r) => (r.seconds < a.seconds ? r : a));
  const peak = Math.max(...bs.map((r) => r.peakMiB));
  const decoded = await measure("bash", ["-c", `xz -dc "$0" | cmp -s - "$1"`, ours, raw]);
  const same = decoded.code === 0;
  report(
    "xz-raw",
    b.seconds / x.seconds,
    `compressFile(".xz") ${b.seconds.toFixed(2)} s vs xz -0 -T0 ${x.seconds.toFixed(2)} s on a ${MIB} MiB ` +
      `sparse raw (${(used / 2 ** 20).toFixed(0)} MiB allocated); output ${same ? "decodes to the raw file" : "DOES NOT DECODE"} ` +
      `(${((await stat(ours)).size / 2 ** 20).toFixed(1)} MiB); Node process peak RSS ${peak.toFixed(0)} MiB; best of 2 alternating rounds ` +
      `(includes ~0.3 s tsx start); generated raw because the metal image kind is not on main yet; target ≤ 1.15×`,
  );
  console.error(`# machine: ${machine()}`);
} finally {
  await rm(work, { recursive: true, force: true });
}

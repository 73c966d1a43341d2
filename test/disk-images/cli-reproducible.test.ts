/**
 * The imager CLI's converted disk images are reproducible: qcow2 (`alibabacloud`), vhd (`azure`,
 * .vhd.zst) and ova (`vmware`) built twice, into different output directories with different
 * image caches and the same SOURCE_DATE_EPOCH, are byte-identical, and each is the format it
 * claims (`qemu-img info` for qcow2 and vhd, the OVA's tar members).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { promisify } from "node:util";
import { ensureFixtureRelease } from "../../fixtures/index.js";
import { limiter } from "../../src/imager/tools/limiter.js";
import { runImager } from "../helpers/run-imager.js";
import { sha256File } from "../reliability/fault-probe.js";

const run = promisify(execFile);
const EPOCH = "1700000000";
const HELLO = "ghcr.io/siderolabs/bootforge-hello:1.0.0";
/** Profile, output file name, and the check of its format. */
const CASES: [string, string, (path: string) => Promise<void>][] = [
  ["alibabacloud", "alibabacloud-amd64.qcow2", (p) => qemuFormat(p, "qcow2")],
  [
    "azure",
    "azure-amd64.vhd.zst",
    async (p) => {
      await run("zstd", ["-q", "-d", "-f", p, "-o", `${p}.vhd`]);
      await qemuFormat(`${p}.vhd`, "vpc");
      await rm(`${p}.vhd`);
    },
  ],
  [
    "vmware",
    "vmware-amd64.ova",
    async (p) => {
      const { stdout } = await run("tar", ["-tf", p]);
      assert.deepEqual(stdout.trim().split("\n"), ["disk.ovf", "disk.mf", "disk.vmdk"]);
    },
  ],
];

/** QEMU opens `path` in `format` (a fixed VHD probes as raw, so the format is named, not guessed). */
async function qemuFormat(path: string, format: string): Promise<void> {
  const { stdout } = await run("qemu-img", ["info", "-f", format, "--output=json", path]);
  const info = JSON.parse(stdout) as { format: string; "virtual-size": number };
  assert.equal(info.format, format, path);
  assert.ok(info["virtual-size"] >= 1 << 30, `${path}: ${info["virtual-size"]} bytes`);
}

let release = "";
let scratch = "";
before(async () => {
  release = (await ensureFixtureRelease()).dir;
  scratch = await mkdtemp(join(tmpdir(), "bootforge-cli-reproducible-"));
});
after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

it("qcow2, vhd and ova built twice into different directories (and caches) are byte-identical", async () => {
  const limit = limiter(2);
  const build = (round: string, profile: string) =>
    limit(async () => {
      const out = join(scratch, round, profile);
      const r = await runImager([profile, "--arch", "amd64", "--system-extension-image", HELLO], {
        source: `oci-layout:${release}`,
        version: "v1.11.0",
        cacheDir: join(scratch, round, "cache"),
        out,
        sourceDateEpoch: EPOCH,
        timeoutMs: 600_000,
      });
      assert.equal(r.code, 0, `${round} ${profile}: ${r.stderr}`);
      return out;
    });
  const rounds = await Promise.all(
    ["first", "second"].map((round) => Promise.all(CASES.map(([profile]) => build(round, profile)))),
  );
  for (const [i, [profile, file, check]] of CASES.entries()) {
    const [a, b] = [rounds[0]![i]!, rounds[1]![i]!];
    assert.deepEqual(await readdir(a), [file], profile);
    assert.deepEqual(await readdir(b), [file], profile);
    const [da, db] = [await sha256File(join(a, file)), await sha256File(join(b, file))];
    console.log(`cli-reproducible: ${file} ${da.slice(0, 16)}`);
    assert.equal(db, da, `${file} differs between the two builds`);
    await check(join(a, file));
  }
});

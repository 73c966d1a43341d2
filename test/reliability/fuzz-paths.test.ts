/**
 * Seeded, bounded fuzzing of the URL grammars users type by hand: asset paths (`parseAssetPath`),
 * PXE paths (`parsePxePath`) and `/v2` registry routes (`routeV2`), first as pure functions, then
 * through the factory's HTTP app, where no path may ever produce a 500 or a stack trace.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isBootforgeError } from "../../src/errors/index.js";
import { KNOWN_PLATFORMS, parseAssetPath, parsePxePath, routeV2 } from "../../src/profile/index.js";
import { Gen, randomString, TRICKY_STRINGS } from "../../src/schematic/testing/arbitrary.js";
import { EMPTY_ID, startFactory, type TestFactory } from "../factory/harness.js";

const SEED = Number(process.env.BOOTFORGE_FUZZ_SEED ?? 10);
const COUNT = 20_000;
// A hang guard, not a speed test: generous because the machine is shared (GC pauses, load);
// a parser that backtracks catastrophically on some input still shows up here.
const PER_CALL_MS = 1000;

// Grammar pieces, so the fuzzer spends its time near valid names rather than on pure noise.
const PIECES = [
  "kernel-",
  "cmdline-",
  "initramfs-",
  "installer-",
  "-installer-",
  "metal",
  "aws",
  "nocloud",
  "iso",
  "installer",
  "rpi_generic",
  "-amd64",
  "-arm64",
  "amd64",
  "arm64",
  "-secureboot",
  "-uki.efi",
  ".iso",
  ".raw",
  ".qcow2",
  ".vhd",
  ".ova",
  ".xz",
  ".zst",
  ".gz",
  ".tar.gz",
  ".tar",
  "-",
  ".",
  "..",
  "/",
  "%2e%2e",
  "%00",
  "\u0000",
  "é",
  "😀",
  " ",
  "",
];

/** A name the grammar accepts (or nearly: platform and suffix pairs are not all valid). */
function validName(g: Gen): string {
  const arch = g.pick(["amd64", "arm64"]);
  const plat = g.pick(["metal", "aws", "nocloud", "gcp", "azure", ...KNOWN_PLATFORMS]);
  const sb = g.bool(0.3) ? "-secureboot" : "";
  switch (g.int(0, 7)) {
    case 0:
      return `kernel-${arch}`;
    case 1:
      return `cmdline-${plat}-${arch}${sb}`;
    case 2:
      return `initramfs-${arch}.xz`;
    case 3:
      return `${plat}-${arch}${sb}.iso`;
    case 4:
      return `${plat}-${arch}${sb}-uki.efi`;
    case 5:
      return g.bool() ? `installer-${arch}${sb}.tar` : `${plat}-installer-${arch}${sb}.tar`;
    default:
      return `${plat}-${arch}${sb}.${g.pick(["raw", "qcow2", "vhd", "ova"])}${g.pick(["", ".xz", ".zst", ".gz", ".tar.gz"])}`;
  }
}

/** One random edit: insert, delete or replace a character, or splice in a grammar piece. */
function mutate(g: Gen, s: string): string {
  const at = g.int(0, s.length);
  switch (g.int(0, 3)) {
    case 0:
      return s.slice(0, at) + g.pick(PIECES) + s.slice(at);
    case 1:
      return s.slice(0, at) + s.slice(at + 1);
    case 2:
      return s.slice(0, at) + g.pick(Array.from("-._/aZ9 \u0000é")) + s.slice(at + 1);
    default:
      return s.slice(0, at) + s.slice(at).toUpperCase();
  }
}

function fuzzName(g: Gen): string {
  const r = g.random();
  if (r < 0.25) return validName(g);
  if (r < 0.5) {
    let s = validName(g);
    for (let i = g.int(1, 3); i > 0; i--) s = mutate(g, s);
    return s;
  }
  if (r < 0.55) return g.pick(PIECES).repeat(g.int(100, 5000));
  if (r < 0.65) return randomString(g);
  const parts: string[] = [];
  const n = g.int(1, 6);
  for (let i = 0; i < n; i++) {
    if (g.bool(0.15)) parts.push(g.pick(KNOWN_PLATFORMS));
    else if (g.bool(0.1)) parts.push(g.pick(TRICKY_STRINGS));
    else parts.push(g.pick(PIECES));
  }
  return parts.join("");
}

/** Runs `fn`, requiring a typed error (of one of `kinds`) or a value, within the time budget. */
function typedOnly<T>(fn: () => T, input: string, kinds: readonly string[]): T | undefined {
  const t = performance.now();
  try {
    return fn();
  } catch (e) {
    assert.ok(isBootforgeError(e), `untyped ${String(e)} for ${JSON.stringify(input.slice(0, 200))}`);
    assert.ok(kinds.includes(e.kind), `kind ${e.kind} for ${JSON.stringify(input.slice(0, 200))}`);
    assert.ok(!/\n\s+at /.test(e.message), "no stack trace in the message");
    return undefined;
  } finally {
    const ms = performance.now() - t;
    assert.ok(ms < PER_CALL_MS, `${ms.toFixed(1)} ms for ${JSON.stringify(input.slice(0, 200))}`);
  }
}

describe("fuzz: asset-path grammar (pure)", () => {
  it(`parseAssetPath: ${COUNT} seeded inputs, typed errors only, consistent results`, () => {
    const g = new Gen(SEED);
    let ok = 0;
    for (let i = 0; i < COUNT; i++) {
      const path = fuzzName(g);
      const p = typedOnly(() => parseAssetPath(path), path, ["invalid-input"]);
      if (p === undefined) continue;
      ok++;
      // Whatever parses names a kind and a supported architecture, and parses the same way twice.
      assert.ok(p.output?.kind !== undefined, path);
      assert.ok(p.arch === "amd64" || p.arch === "arm64", `${path}: arch ${String(p.arch)}`);
      assert.deepEqual(parseAssetPath(path), p);
    }
    // The generator must reach the accepting states, or the run proves little.
    assert.ok(ok > COUNT / 5, `only ${ok} of ${COUNT} inputs parsed`);
  });

  it(`parsePxePath: ${COUNT} seeded inputs, typed errors only`, () => {
    const g = new Gen(SEED + 1);
    let ok = 0;
    for (let i = 0; i < COUNT; i++) {
      const path = fuzzName(g);
      const p = typedOnly(() => parsePxePath(path), path, ["invalid-input"]);
      if (p === undefined) continue;
      ok++;
      assert.ok(p.bootAssets.length === 1 || p.bootAssets.length === 2, path);
      // Every asset the script points at must itself be a valid asset path.
      for (const b of p.bootAssets)
        assert.doesNotThrow(() => parseAssetPath(b.asset), `${path} → ${b.asset}`);
    }
    assert.ok(ok > 0, "some PXE paths parsed");
  });

  it(`routeV2: ${COUNT} seeded inputs, typed errors only`, () => {
    const g = new Gen(SEED + 2);
    const segs = [
      "siderolabs",
      "metal-installer",
      EMPTY_ID,
      "manifests",
      "blobs",
      "referrers",
      "tags",
      "list",
    ];
    let ok = 0;
    for (let i = 0; i < COUNT; i++) {
      const n = g.int(0, 7);
      const parts: string[] = [];
      for (let j = 0; j < n; j++) parts.push(g.bool(0.7) ? g.pick(segs) : fuzzName(g));
      const path = (g.bool() ? "/" : "") + parts.join("/") + (g.bool(0.2) ? "/" : "");
      const r = typedOnly(() => routeV2(path), path, ["not-found", "invalid-input"]);
      if (r !== undefined) ok++;
    }
    assert.ok(ok > COUNT / 20, `only ${ok} routes accepted`);
  });
});

describe("fuzz: asset, PXE and /v2 paths through the factory app", () => {
  let f: TestFactory;
  before(async () => {
    f = await startFactory();
    const r = await f.factory.app.request("/schematics", { method: "POST", body: "{}" });
    assert.equal(r.status, 201);
  });
  after(async () => f?.stop());

  it("500 seeded requests: never a 500, never a stack trace", async () => {
    const g = new Gen(SEED + 3);
    const seen = new Map<number, number>();
    for (let i = 0; i < 500; i++) {
      // Names with a slash are separate routes; keep them in the segment as the URL encoder would.
      const name = encodeURIComponent(fuzzName(g).slice(0, 2000));
      const route = g.pick(["image", "image", "pxe", "v2"]);
      const url =
        route === "v2"
          ? `http://x/v2/${fuzzName(g).slice(0, 200)}/${EMPTY_ID}/${g.pick(["manifests", "blobs"])}/${name}`
          : `http://x/${route}/${EMPTY_ID}/${g.pick(["v1.11.0", "1.11.0", "v1.5", "v9.9.9"])}/${name}`;
      let res: Response;
      try {
        res = await f.factory.app.request(url, { method: g.pick(["GET", "HEAD"]) });
      } catch (e) {
        // URLs the WHATWG parser itself refuses never reach the server.
        if (e instanceof TypeError) continue;
        throw e;
      }
      const body = await res.text();
      seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500 || res.status === 501, `${res.status} for ${url}: ${body.slice(0, 300)}`);
      assert.ok(!/\n\s+at /.test(body), `stack trace for ${url}`);
    }
    assert.ok((seen.get(400) ?? 0) > 0, `statuses ${JSON.stringify([...seen])}`);
  });
});

// Seeded, bounded fuzzing: the cmdline parser and the META decoders see hostile input from users
// (extra kernel args, schematics, disk images) and must only ever fail with a BootforgeError.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { BootforgeError } from "../../errors/index.js";
import { Cmdline } from "../../cmdline/cmdline.js";
import { buildKernelCmdline } from "../../cmdline/build-cmdline.js";
import { decodeMetaPartition, META_PARTITION_SIZE } from "./meta-partition.js";
import { decodeMetaValues, encodeMetaValues, parseMetaValue } from "./meta-value.js";
import { SyslinuxAdv } from "./syslinux-adv.js";
import { decodeTalosAdvCopy, encodeTalosAdv, TALOS_ADV_LENGTH } from "./talos-adv.js";
import { prng as rng } from "../../../test/helpers/prng.js";

const ALPHABET = [
  "a",
  "b",
  "=",
  "-",
  " ",
  "\t",
  "\n",
  "\u0085",
  "\u00a0",
  "\ufeff",
  "0",
  "x",
  "console",
  "talos.platform",
  ";",
  "é",
  "\u0000",
];

function randomText(r: () => number, max: number): string {
  const n = Math.floor(r() * max);
  let s = "";
  for (let i = 0; i < n; i++) s += ALPHABET[Math.floor(r() * ALPHABET.length)]!;
  return s;
}

function onlyTypedErrors(fn: () => unknown, input: unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof BootforgeError)) {
      assert.fail(`non-BootforgeError ${String(e)} for input ${JSON.stringify(input)}`);
    }
  }
}

const SEED = 0x5eed;

test("cmdline parser and operations never throw and keep keys unique", () => {
  const r = rng(SEED);
  const started = Date.now();
  for (let i = 0; i < 3000; i++) {
    const text = randomText(r, 40);
    const args = [randomText(r, 12), randomText(r, 12), randomText(r, 12)];
    const c = Cmdline.parse(text);
    c.appendAll(args, { overwriteArgs: ["console", "talos.platform"], deleteNegatedArgs: r() < 0.5 });
    c.setAll([randomText(r, 10)]);
    const keys = c.parameters.map((p) => p.key);
    assert.equal(new Set(keys).size, keys.length, JSON.stringify({ text, args }));
    // Rendering then re-parsing is stable once the line is normalised.
    const once = Cmdline.parse(c.toString()).toString();
    assert.equal(Cmdline.parse(once).toString(), once);
    onlyTypedErrors(
      () =>
        buildKernelCmdline({
          platform: "metal",
          arch: "amd64",
          version: text,
          outputKind: "iso",
          extraKernelArgs: args,
        }),
      { text, args },
    );
  }
  assert.ok(Date.now() - started < 10_000);
});

test("META value decoding fails only with BootforgeErrors", () => {
  const r = rng(SEED + 1);
  const started = Date.now();
  const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n-_ ";
  for (let i = 0; i < 3000; i++) {
    const kind = i % 3;
    let input: string;
    if (kind === 0) {
      input = Array.from({ length: Math.floor(r() * 40) }, () => b64[Math.floor(r() * b64.length)]).join("");
    } else {
      // Valid base64 of random bytes, sometimes behind a gzip magic so the gunzip path runs.
      const bytes = Buffer.from(
        Array.from({ length: 4 + Math.floor(r() * 64) }, () => Math.floor(r() * 256)),
      );
      if (kind === 2) bytes.set([0x1f, 0x8b, 8, 0], 0);
      input = bytes.toString("base64");
    }
    onlyTypedErrors(() => decodeMetaValues(input), input);
    onlyTypedErrors(() => parseMetaValue(randomText(r, 12)), i);
  }
  // Round trip on random valid values, gzip on and off.
  for (let i = 0; i < 300; i++) {
    const values = Array.from({ length: 1 + Math.floor(r() * 4) }, () => ({
      key: Math.floor(r() * 256),
      value: randomText(r, 200).replaceAll(";", ""),
    }));
    assert.deepEqual(decodeMetaValues(encodeMetaValues(values, r() < 0.5)), values);
  }
  assert.ok(Date.now() - started < 10_000);
});

/** A Talos ADV copy with random records and a valid checksum, so the record parser itself is fuzzed. */
function randomValidCopy(r: () => number): Uint8Array {
  const copy = new Uint8Array(TALOS_ADV_LENGTH);
  const view = new DataView(copy.buffer);
  view.setUint32(0, 0x5a4b3c2d);
  view.setUint32(TALOS_ADV_LENGTH - 4, 0xa5b4c3d2);
  let at = 4;
  for (let n = Math.floor(r() * 5); n > 0 && at < 200; n--) {
    view.setUint32(at, r() < 0.2 ? 0x100 + Math.floor(r() * 0xffffff) : Math.floor(r() * 256));
    const size = r() < 0.2 ? Math.floor(r() * 0xffffffff) : Math.floor(r() * 40);
    view.setUint32(at + 4, size);
    at += 8 + (size % 64);
  }
  copy.set(createHash("sha256").update(copy).digest(), TALOS_ADV_LENGTH - 36);
  return copy;
}

test("META partition decoding recovers or reports, never crashes", () => {
  const r = rng(SEED + 2);
  const started = Date.now();
  const good = new Uint8Array(META_PARTITION_SIZE);
  good.set(encodeTalosAdv(new Map([[10, new TextEncoder().encode("v")]])), 0);
  for (let i = 0; i < 300; i++) {
    const img = good.slice();
    // Damage the first copy only: the second always rescues the value.
    const off = Math.floor(r() * TALOS_ADV_LENGTH);
    img.fill(Math.floor(r() * 256), off, Math.min(TALOS_ADV_LENGTH, off + 1 + Math.floor(r() * 4096)));
    const flip = Math.floor(r() * TALOS_ADV_LENGTH);
    img[flip] = (img[flip] ?? 0) ^ (1 + Math.floor(r() * 255));
    // Random legacy region too.
    for (let j = META_PARTITION_SIZE - 1024; j < META_PARTITION_SIZE; j += 1 + Math.floor(r() * 64)) {
      img[j] = Math.floor(r() * 256);
    }
    let values: { key: number; value: string }[] = [];
    onlyTypedErrors(() => (values = decodeMetaPartition(img).values), i);
    assert.equal(values.find((v) => v.key === 10)?.value, "v");
  }
  for (let i = 0; i < 300; i++) onlyTypedErrors(() => decodeTalosAdvCopy(randomValidCopy(r)), i);
  for (let i = 0; i < 3000; i++) {
    const raw = new Uint8Array(1024);
    for (let j = 0; j < 1024; j += 1 + Math.floor(r() * 16)) raw[j] = Math.floor(r() * 256);
    if (r() < 0.5) raw.fill(0, 8 + Math.floor(r() * 400));
    const adv = SyslinuxAdv.fromBytes(raw);
    const tag = Math.floor(r() * 8);
    onlyTypedErrors(() => {
      adv.listTags();
      adv.readTag(tag);
      adv.setTag(tag, new Uint8Array(Math.floor(r() * 300)));
      adv.deleteTag(Math.floor(r() * 8));
    }, i);
  }
  assert.ok(Date.now() - started < 10_000);
});

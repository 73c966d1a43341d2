import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readVectors } from "../../../test/helpers/shared.js";
import { isBootforgeError } from "../../errors/index.js";
import { decodeMetaPartition, encodeMetaPartition, META_PARTITION_SIZE } from "./meta-partition.js";
import { SyslinuxAdv } from "./syslinux-adv.js";
import {
  decodeTalosAdv,
  decodeTalosAdvCopy,
  encodeTalosAdv,
  TALOS_ADV_DATA_LENGTH,
  TALOS_ADV_LENGTH,
  TALOS_ADV_SIZE,
} from "./talos-adv.js";

interface SyslinuxVector {
  test: string;
  name: string;
  operation: string;
  inputHex?: string;
  expectedHex?: string;
  tag?: number;
  value?: string;
  expectedValue?: string;
  expectedOk?: boolean;
  expectedListTags?: number[];
  expectedDecoded?: { tagsFirstCopy: { tag: number; value: string }[] };
}
interface MetaVectors {
  syslinuxADV: { vectors: SyslinuxVector[] };
  talosADV: { layout: string; assertions: string[] };
}
const vectors = readVectors<MetaVectors>("meta.json");
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const fromHex = (s: string) => new Uint8Array(Buffer.from(s, "hex"));
const utf8 = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString());

test("syslinux ADV vectors (byte-exact)", async (t) => {
  for (const v of vectors.syslinuxADV.vectors) {
    await t.test(`${v.test} ${v.name}`, () => {
      switch (v.operation) {
        case "readTag": {
          const adv = SyslinuxAdv.fromBytes(fromHex(v.inputHex!));
          assert.equal(str(adv.readTag(v.tag!)), v.expectedValue);
          assert.equal(adv.readTag(v.tag!) !== undefined, v.expectedOk);
          assert.deepEqual(adv.listTags(), v.expectedListTags);
          return;
        }
        case "setTag": {
          const adv = SyslinuxAdv.fromBytes(fromHex(v.inputHex!));
          assert.equal(adv.setTag(v.tag!, utf8(v.value!)), v.expectedOk);
          assert.equal(hex(adv.bytes()), v.expectedHex);
          break;
        }
        case "deleteTag": {
          const adv = SyslinuxAdv.fromBytes(fromHex(v.inputHex!));
          assert.equal(adv.deleteTag(v.tag!), v.expectedOk);
          assert.equal(hex(adv.bytes()), v.expectedHex);
          break;
        }
        case "cleanup": {
          const adv = SyslinuxAdv.fromBytes(fromHex(v.inputHex!));
          adv.cleanup();
          assert.equal(hex(adv.bytes()), v.expectedHex);
          break;
        }
        default: {
          // TestNewADV: loading keeps the last 1024 bytes verbatim (the fixture file is not copied,
          // so a stand-in with leading data is used).
          assert.match(v.operation, /^load/);
          const file = new Uint8Array(60416);
          file.fill(0xaa, 0, 60416 - 1024);
          file.set(fromHex(v.expectedHex!), 60416 - 1024);
          assert.equal(hex(SyslinuxAdv.fromBytes(file).bytes()), v.expectedHex);
        }
      }
      if (v.expectedDecoded) {
        const adv = SyslinuxAdv.fromBytes(fromHex(v.expectedHex!));
        const decoded = adv.listTags().map((tag) => ({ tag, value: str(adv.readTag(tag)) }));
        // readTag returns the first record of a tag, so compare tags via listTags and values per tag.
        assert.deepEqual(
          decoded.map((d) => d.tag),
          v.expectedDecoded.tagsFirstCopy.map((d) => d.tag),
        );
      }
    });
  }
});

test("syslinux ADV limits", () => {
  const adv = SyslinuxAdv.empty();
  assert.equal(adv.setTag(1, new Uint8Array(256)), false);
  assert.equal(adv.setTag(1, new Uint8Array(255)), true);
  assert.equal(adv.setTag(2, new Uint8Array(255)), false, "second 255-byte value does not fit 512 bytes");
  assert.equal(adv.readTag(1)?.length, 255);
  assert.equal(adv.readTag(9), undefined);
  assert.equal(adv.deleteTag(9), false);
  // Upstream would panic deleting a record ending past offset 100; here it is a typed error.
  assert.throws(
    () => adv.deleteTag(1),
    (e) => isBootforgeError(e, "invalid-input"),
  );
});

// go-adv TestMarshalUnmarshal, one assertion at a time.
test("Talos ADV: all-zero input is an empty ADV with problems, not a failure", () => {
  const got = decodeTalosAdv(new Uint8Array(TALOS_ADV_SIZE));
  assert.equal(got.copy, "none");
  assert.equal(got.tags.size, 0);
  assert.equal(got.problems.length, 2);
  assert.match(got.problems[0]!, /unexpected magic 0, expecting 5a4b3c2d/);
});

test("Talos ADV: three tags survive any single damaged region", () => {
  const tags = new Map([
    [3, utf8("value1")],
    [4, utf8("value2")],
    [5, utf8("value3")],
  ]);
  const bytes = encodeTalosAdv(tags);
  assert.equal(bytes.length, 524288);
  const damages: [number, number][][] = [
    [],
    [[0, 2]],
    [[30, 1000]],
    [
      [8, 4],
      [40, 2],
    ],
    [[0, 262144]],
  ];
  for (const ranges of damages) {
    const b = bytes.slice();
    for (const [off, len] of ranges) b.fill(0, off, off + len);
    const got = decodeTalosAdv(b);
    assert.deepEqual([...got.tags.keys()].sort(), [3, 4, 5], JSON.stringify(ranges));
    assert.deepEqual(
      [3, 4, 5].map((k) => str(got.tags.get(k))),
      ["value1", "value2", "value3"],
    );
    assert.equal(got.copy, ranges.length === 0 ? "first" : "second");
  }
  // Damage in the second copy alone leaves the first in use; both damaged means none.
  const b = bytes.slice();
  b[TALOS_ADV_LENGTH + 100] = 1;
  assert.equal(decodeTalosAdv(b).copy, "first");
  b[100] = 1;
  assert.equal(decodeTalosAdv(b).copy, "none");
  assert.match(decodeTalosAdv(b).problems[0]!, /checksum mismatch/);
});

test("Talos ADV layout matches the documented format byte for byte", () => {
  const copy = encodeTalosAdv(
    new Map([
      [0x11, utf8("dual-boot")],
      [0x0a, utf8("net")],
    ]),
  ).subarray(0, TALOS_ADV_LENGTH);
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  assert.equal(view.getUint32(0), 0x5a4b3c2d);
  // Sorted by tag: 0x0a first.
  assert.deepEqual([view.getUint32(4), view.getUint32(8)], [0x0a, 3]);
  assert.equal(str(copy.subarray(12, 15)), "net");
  assert.deepEqual([view.getUint32(15), view.getUint32(19)], [0x11, 9]);
  assert.equal(str(copy.subarray(23, 32)), "dual-boot");
  assert.ok(copy.subarray(32, TALOS_ADV_LENGTH - 36).every((x) => x === 0));
  assert.equal(view.getUint32(TALOS_ADV_LENGTH - 4), 0xa5b4c3d2);
  const zeroed = copy.slice();
  zeroed.fill(0, TALOS_ADV_LENGTH - 36, TALOS_ADV_LENGTH - 4);
  assert.equal(
    hex(copy.subarray(TALOS_ADV_LENGTH - 36, TALOS_ADV_LENGTH - 4)),
    createHash("sha256").update(zeroed).digest("hex"),
  );
});

test("Talos ADV capacity and record bounds", () => {
  // Exactly full: one record filling the whole data area.
  const full = new Map([[7, new Uint8Array(TALOS_ADV_DATA_LENGTH - 8).fill(1)]]);
  assert.equal(decodeTalosAdv(encodeTalosAdv(full)).tags.get(7)?.length, TALOS_ADV_DATA_LENGTH - 8);
  const over = new Map([[7, new Uint8Array(TALOS_ADV_DATA_LENGTH - 7)]]);
  assert.throws(
    () => encodeTalosAdv(over),
    (e) => isBootforgeError(e, "invalid-input") && /do not fit/.test((e as Error).message),
  );
  assert.throws(
    () => encodeTalosAdv(new Map([[0, utf8("x")]])),
    (e) => isBootforgeError(e, "invalid-input"),
  );
  assert.throws(
    () => decodeTalosAdvCopy(new Uint8Array(10)),
    (e) => isBootforgeError(e, "invalid-input"),
  );
});

test("META partition: encode, decode, recover", () => {
  const values = [
    { key: 0x11, value: "dual-boot" },
    { key: 0x0a, value: '{"externalIPs":["1.2.3.4"]}' },
    { key: 0x0a, value: "later wins" },
  ];
  const img = encodeMetaPartition(values);
  assert.equal(img.length, META_PARTITION_SIZE);
  assert.ok(
    img.subarray(TALOS_ADV_SIZE).every((x) => x === 0),
    "legacy region and the rest stay zero",
  );
  const expected = [
    { key: 0x0a, value: "later wins" },
    { key: 0x11, value: "dual-boot" },
  ];
  assert.deepEqual(decodeMetaPartition(img).values, expected);
  assert.deepEqual(encodeMetaPartition(values), img, "reproducible");
  const damaged = img.slice();
  damaged.fill(0xff, 0, 4096);
  const got = decodeMetaPartition(damaged);
  assert.equal(got.talosCopy, "second");
  assert.deepEqual(got.values, expected);
  // An all-zero (fresh) partition is empty, not an error.
  assert.deepEqual(decodeMetaPartition(new Uint8Array(META_PARTITION_SIZE)).values, []);
  assert.throws(
    () => decodeMetaPartition(new Uint8Array(1000)),
    (e) => isBootforgeError(e, "invalid-input"),
  );
});

test("META partition: legacy tags are read when the Talos ADV lacks them", () => {
  const img = encodeMetaPartition([{ key: 0x0a, value: "talos" }]);
  const legacy = SyslinuxAdv.empty();
  legacy.setTag(0x0a, utf8("legacy-shadowed"));
  legacy.setTag(0x0b, utf8("legacy"));
  img.set(legacy.bytes(), img.length - 1024);
  assert.deepEqual(decodeMetaPartition(img).values, [
    { key: 0x0a, value: "talos" },
    { key: 0x0b, value: "legacy" },
  ]);
});

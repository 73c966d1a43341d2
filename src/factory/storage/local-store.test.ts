import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { LocalStore } from "./local-store.js";

async function withStore(fn: (s: LocalStore, root: string) => Promise<void>) {
  const root = await mkdtemp(join(tmpdir(), "bf-store-"));
  try {
    await fn(await LocalStore.open(root), root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

test("assets become visible only once complete, with ranges", () =>
  withStore(async (s) => {
    assert.equal(await s.get("abc"), undefined);
    const obj = await s.put("abc", (p) => writeFile(p, "hello world"));
    assert.equal(obj.size, 11);
    assert.equal(obj.etag, '"abc"');
    const again = await s.get("abc");
    assert.ok(again);
    assert.equal(await text(again.open()), "hello world");
    assert.equal(await text(again.open({ start: 6, end: 10 })), "world");
  }));

test("a failing producer leaves nothing behind", () =>
  withStore(async (s, root) => {
    await assert.rejects(
      s.put("broken", async (p) => {
        await writeFile(p, "half");
        throw new Error("build failed");
      }),
      /build failed/,
    );
    assert.equal(await s.get("broken"), undefined);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
  }));

test("leftovers of an interrupted write are swept on open", () =>
  withStore(async (_s, root) => {
    await writeFile(join(root, "tmp", "abc-partial"), "partial");
    const s2 = await LocalStore.open(root);
    assert.deepEqual(await readdir(join(root, "tmp")), []);
    assert.equal(await s2.get("abc"), undefined);
  }));

test("keys that could escape the store are refused", () =>
  withStore(async (s) => {
    for (const bad of ["../x", "a/b", "", ".hidden", "A".repeat(200), "x..y"]) {
      await assert.rejects(s.get(bad), /invalid storage key/);
    }
  }));

test("schematics round-trip atomically", () =>
  withStore(async (s, root) => {
    const sch = s.schematics();
    assert.equal(await sch.get("f".repeat(64)), undefined);
    await sch.put("f".repeat(64), "customization: {}\n");
    assert.equal(await sch.get("f".repeat(64)), "customization: {}\n");
    assert.equal(
      await readFile(join(root, "schematics", `${"f".repeat(64)}.yaml`), "utf8"),
      "customization: {}\n",
    );
  }));

const hex = (alg: string, s: string) => createHash(alg).update(s).digest("hex");

test("digests are recorded at put and served from the record, not by reading the asset", () =>
  withStore(async (s, root) => {
    const put = await s.put("abc", (p) => writeFile(p, "hello world"));
    const want = { sha256: hex("sha256", "hello world"), sha512: hex("sha512", "hello world") };
    assert.deepEqual(await put.digests?.(), want);
    assert.deepEqual(JSON.parse(await readFile(join(root, "digests", "ab", "abc.json"), "utf8")), want);
    // Bytes changed behind the store's back: the record still answers, so the asset was not read.
    await writeFile(join(root, "assets", "ab", "abc"), "HELLO WORLD");
    assert.deepEqual(await (await s.get("abc"))?.digests?.(), want);
  }));

test("an asset stored without a record (older Bootforge) is hashed once and recorded", () =>
  withStore(async (s, root) => {
    await s.put("abc", (p) => writeFile(p, "hello world"));
    const record = join(root, "digests", "ab", "abc.json");
    await rm(record);
    const d = await (await s.get("abc"))?.digests?.();
    assert.equal(d?.sha256, hex("sha256", "hello world"));
    const recorded = JSON.parse(await readFile(record, "utf8")) as { sha512: string };
    assert.equal(recorded.sha512, hex("sha512", "hello world"));
  }));

test("a damaged digest record is an error, never a wrong checksum", () =>
  withStore(async (s, root) => {
    await s.put("abc", (p) => writeFile(p, "hello world"));
    await writeFile(join(root, "digests", "ab", "abc.json"), '{"sha256":"00"}');
    await assert.rejects(
      async () => (await s.get("abc"))?.digests?.(),
      /recorded digests of abc are damaged/,
    );
  }));

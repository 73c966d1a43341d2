import { test } from "node:test";
import assert from "node:assert/strict";
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

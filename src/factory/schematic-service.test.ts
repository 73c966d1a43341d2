import assert from "node:assert/strict";
import { test } from "node:test";
import { isBootforgeError } from "../errors/index.js";
import { FactoryMetrics } from "./metrics.js";
import { SchematicService } from "./schematic-service.js";
import type { SchematicStore } from "./storage/types.js";

/** An in-memory store counting its reads and writes. */
function memoryStore(): SchematicStore & { gets: number; puts: number } {
  const data = new Map<string, string>();
  const store = {
    gets: 0,
    puts: 0,
    get: (id: string) => {
      store.gets++;
      return Promise.resolve(data.get(id));
    },
    put: (id: string, yaml: string) => {
      store.puts++;
      data.set(id, yaml);
      return Promise.resolve();
    },
  };
  return store;
}

const body = (i: number): Buffer =>
  Buffer.from(`customization:\n  extraKernelArgs:\n    - bench=${i}\n`, "utf8");

test("a repeated body is answered from memory, synchronously, with the stored schematic", async () => {
  const store = memoryStore();
  const s = new SchematicService(store, new FactoryMetrics());
  assert.equal(s.known(body(1)), undefined);
  const first = await s.create(body(1));
  assert.equal(store.puts, 1);
  const again = s.known(body(1));
  assert.equal(again, first);
  // A copy of the same bytes (another request's buffer) is the same body.
  assert.equal(s.known(Buffer.from(body(1))), first);
  assert.equal(await s.create(Buffer.from(body(1))), first);
  assert.equal(store.puts, 1);
  assert.equal(store.gets, 1, "storage is consulted once, for the first create");
  // Another body with the same schematic (a comment) decodes to the same ID.
  const commented = Buffer.concat([body(1), Buffer.from("# same\n")]);
  assert.equal(s.known(commented), undefined);
  assert.equal((await s.create(commented)).id, first.id);
  assert.equal(s.known(commented)?.id, first.id);
});

test("string and byte bodies are cached apart, and both decode", async () => {
  const s = new SchematicService(memoryStore(), new FactoryMetrics());
  const fromText = await s.create(body(2).toString("utf8"));
  assert.equal(s.known(body(2)), undefined, "a string body does not answer a byte body");
  const fromBytes = await s.create(body(2));
  assert.equal(fromBytes.id, fromText.id);
  assert.equal(s.known(body(2)), fromBytes);
});

test("the body cache keeps the bodies in use when it evicts", async () => {
  const s = new SchematicService(memoryStore(), new FactoryMetrics());
  await s.create(body(0));
  // 1000 bodies fit; the one asked for all along survives the 1200 new ones, the others go.
  for (let i = 1; i <= 1200; i++) {
    await s.create(body(i));
    assert.ok(s.known(body(0)) !== undefined, `body 0 evicted after ${i} new bodies`);
  }
  assert.equal(s.known(body(1)), undefined, "an old body nobody asked for again is evicted");
  assert.ok(s.known(body(1200)) !== undefined);
});

test("bodies over the size limit are refused and never looked up", async () => {
  const s = new SchematicService(memoryStore(), new FactoryMetrics());
  const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
  assert.equal(s.known(big), undefined);
  await assert.rejects(s.create(big), (e: unknown) => isBootforgeError(e, "too-large"));
});

test("an invalid body is an error every time, never remembered", async () => {
  const s = new SchematicService(memoryStore(), new FactoryMetrics());
  const bad = Buffer.from("customization:\n  nope: 1\n");
  for (let i = 0; i < 2; i++) {
    await assert.rejects(s.create(bad), /field nope not found in type schematic.Customization/);
    assert.equal(s.known(bad), undefined);
  }
});

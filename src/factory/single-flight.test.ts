import { test } from "node:test";
import assert from "node:assert/strict";
import { SingleFlight } from "./single-flight.js";
import { BuildQueue, QueueFullError } from "./build-queue.js";

test("single flight runs one job per key and shares the result", async () => {
  const sf = new SingleFlight<number>();
  let calls = 0;
  const job = async () => {
    calls++;
    await new Promise((r) => setTimeout(r, 20));
    return 42;
  };
  const results = await Promise.all([sf.do("a", job), sf.do("a", job), sf.do("b", job)]);
  assert.deepEqual(results, [42, 42, 42]);
  assert.equal(calls, 2);
  assert.equal(sf.size, 0);
  // after completion a new call runs again
  await sf.do("a", job);
  assert.equal(calls, 3);
});

test("single flight shares failures and forgets them", async () => {
  const sf = new SingleFlight<number>();
  let calls = 0;
  const job = () => {
    calls++;
    return Promise.reject(new Error("boom"));
  };
  const r = await Promise.allSettled([sf.do("k", job), sf.do("k", job)]);
  assert.ok(r.every((x) => x.status === "rejected"));
  assert.equal(calls, 1);
  await assert.rejects(sf.do("k", job));
  assert.equal(calls, 2);
});

test("build queue bounds concurrency and rejects beyond the waiting limit", async () => {
  const q = new BuildQueue({ concurrency: 2, maxWaiting: 1, retryAfterSeconds: 7 });
  let peak = 0;
  let now = 0;
  const release: Array<() => void> = [];
  const job = () =>
    new Promise<void>((resolve) => {
      now++;
      peak = Math.max(peak, now);
      release.push(() => {
        now--;
        resolve();
      });
    });
  const a = q.run(job);
  const b = q.run(job);
  const c = q.run(job);
  await assert.rejects(q.run(job), (e: unknown) => e instanceof QueueFullError && e.retryAfter === 7);
  assert.equal(q.active, 2);
  assert.equal(q.pending, 1);
  release.shift()!();
  await a;
  await new Promise((r) => setImmediate(r));
  assert.equal(q.pending, 0);
  while (release.length) release.shift()!();
  await Promise.all([b, c]);
  await new Promise((r) => setImmediate(r));
  release.forEach((f) => f());
  assert.equal(peak, 2);
  assert.equal(q.active, 0);
});

test("a waiter can be cancelled", async () => {
  const q = new BuildQueue({ concurrency: 1, maxWaiting: 5 });
  let done!: () => void;
  const first = q.run(() => new Promise<void>((r) => (done = r)));
  const ac = new AbortController();
  const second = q.run(() => Promise.resolve(1), ac.signal);
  ac.abort();
  await assert.rejects(second, /cancelled/);
  assert.equal(q.pending, 0);
  done();
  await first;
  assert.equal(q.active, 0);
});

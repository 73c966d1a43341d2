import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { ConsoleReporter, HeldReporter, RecordingReporter, progress } from "./reporter.js";

function capture(tty: boolean): { r: ConsoleReporter; text: () => string } {
  const out = new PassThrough();
  let s = "";
  out.on("data", (c: Buffer) => (s += c.toString()));
  return { r: new ConsoleReporter(out, { tty }), text: () => s };
}

test("plain mode trims, expands tabs and suppresses a repeated line", () => {
  const { r, text } = capture(false);
  r.report({ message: "  profile ready:\n", status: "succeeded" });
  progress(r, "rebuilding initramfs with system extensions...", "validating system extensions");
  progress(r, "rebuilding initramfs with system extensions...", "validating system extensions");
  r.report({ message: "initramfs ready", status: "succeeded" });
  assert.equal(
    text(),
    "profile ready:\nrebuilding initramfs with system extensions...\n    validating system extensions\ninitramfs ready\n",
  );
});

test("TTY mode redraws running lines in place and keeps finished ones", () => {
  const { r, text } = capture(true);
  r.report({ message: "building UKI...", status: "running" });
  r.report({ message: "UKI ready", status: "succeeded" });
  r.report({ message: "skipped pulling overlay (no overlay)", status: "skip" });
  const s = text();
  const esc = "\u001b";
  assert.ok(s.includes(`${esc}[33m◰ building UKI...${esc}[0m\n`), s);
  assert.ok(s.includes(`${esc}[1A${esc}[0J${esc}[32mUKI ready${esc}[0m\n`), s);
  assert.ok(s.endsWith(`${esc}[34mskipped pulling overlay (no overlay)${esc}[0m\n`), s);
});

test("a held reporter passes nothing on until released, then everything in order", () => {
  const target = new RecordingReporter();
  const held = new HeldReporter(target);
  held.report({ message: "building ISO...", status: "running" });
  held.report({ message: "building ISO...\n\tcreating EFI boot image", status: "running" });
  target.report({ message: "UKI ready", status: "succeeded" });
  assert.deepEqual(
    target.updates.map((u) => u.message),
    ["UKI ready"],
  );
  held.release();
  held.report({ message: "ISO ready", status: "succeeded" });
  assert.deepEqual(
    target.updates.map((u) => u.message),
    ["UKI ready", "building ISO...", "building ISO...\n\tcreating EFI boot image", "ISO ready"],
  );
});

import assert from "node:assert/strict";
import { test } from "node:test";
import { readVectors } from "../../../test/helpers/shared.js";
import { encodeGrubConfig, grubMenuEntry, isoGrubConfig, newGrubConfig } from "./config.js";
import { grubQuote, grubUnquote } from "./quote.js";

interface Case {
  name: string;
  input: string;
  expected: string;
}
const v = readVectors<{
  grubQuote: Case[];
  grubUnquote: Case[];
  grubConfigWrite: Array<{
    test: string;
    versionName: string;
    addResetOption: boolean;
    put: { entry: "A" | "B"; cmdline: string; version: string };
    expected: string;
  }>;
}>("imager-misc.json");

test("grubQuote matches upstream vectors", () => {
  for (const c of v.grubQuote) assert.equal(grubQuote(c.input), c.expected, c.name);
});

test("grubUnquote matches upstream vectors and reverses grubQuote", () => {
  for (const c of v.grubUnquote) assert.equal(grubUnquote(c.input), c.expected, c.name);
  for (const s of ['a\\b{c}d&e$f|g;h<i>j"k', "\\$", "plain"]) assert.equal(grubUnquote(grubQuote(s)), s);
});

test("disk GRUB config equals the upstream goldens byte for byte", () => {
  for (const c of v.grubConfigWrite) {
    const cfg = newGrubConfig(c.put.entry, c.put.cmdline, c.put.version, {
      addResetOption: c.addResetOption,
      product: c.versionName,
    });
    assert.equal(encodeGrubConfig(cfg), c.expected, c.test);
  }
});

test("disk GRUB config with a fallback slot and quoting; invalid configs are rejected", () => {
  const cfg = {
    default: "B" as const,
    fallback: "A" as const,
    entries: {
      A: grubMenuEntry("A", "talos.config=http://x/?a=${uuid}", "v1.9.0"),
      B: grubMenuEntry("B", "console=ttyS0", "v1.9.1"),
    },
    addResetOption: true,
  };
  const text = encodeGrubConfig(cfg);
  assert.ok(
    text.startsWith('set default="B - Talos v1.9.1"\nset fallback="A - Talos v1.9.0"\n\nset timeout=3\n'),
  );
  assert.match(text, /linux \/A\/vmlinuz talos\.config=http:\/\/x\/\?a=\\\$\\\{uuid\\\}\n/);
  assert.match(text, /linux \/B\/vmlinuz console=ttyS0 talos\.experimental\.wipe=system:EPHEMERAL,STATE\n/);
  assert.throws(() => encodeGrubConfig({ ...cfg, fallback: "B" }), /must not be the same/);
  assert.throws(
    () => encodeGrubConfig({ ...cfg, entries: { A: cfg.entries.A } }),
    /invalid default entry: B/,
  );
});

test("ISO grub.cfg renders upstream's template, with and without the Reset entry", () => {
  const head =
    "set default=0\nset timeout=3\n\ninsmod all_video\n\nterminal_input console\nterminal_output console\n\n" +
    'menuentry "Talos ISO" {\n\tset gfxmode=auto\n\tset gfxpayload=text\n\tlinux /boot/vmlinuz a=\\$b\n\tinitrd /boot/initramfs.xz\n}\n\n';
  assert.equal(isoGrubConfig("a=$b", false), head);
  assert.equal(
    isoGrubConfig("a=$b", true),
    head +
      'menuentry "Reset Talos installation" {\n\tset gfxmode=auto\n\tset gfxpayload=text\n\tlinux /boot/vmlinuz a=\\$b talos.experimental.wipe=system\n\tinitrd /boot/initramfs.xz\n}\n',
  );
});

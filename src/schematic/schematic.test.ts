import { test } from "node:test";
import assert from "node:assert/strict";
import type { BootforgeError } from "../errors/index.js";
import { isBootforgeError } from "../errors/index.js";
import { GoFloat, GoMap } from "../yaml/emit.js";
import { readVectors } from "../../test/helpers/shared.js";
import { Gen, aliasBomb, arbitrarySchematic, spellAsJson, spellAsYaml } from "./testing/arbitrary.js";
import {
  MAX_SCHEMATIC_BYTES,
  canonicalSchematic,
  createSchematic,
  parseSchematic,
  schematicId,
  type Schematic,
} from "./index.js";

interface Vector {
  in: string;
  valid: boolean;
  canonical?: string;
  id?: string;
  goError?: string;
}

const { vectors } = readVectors<{ vectors: Vector[] }>("schematics.json");

const rejects = (input: string | Uint8Array, kind = "invalid-input"): BootforgeError => {
  try {
    parseSchematic(input);
  } catch (e) {
    assert.ok(isBootforgeError(e), `not a BootforgeError: ${String(e)}`);
    assert.equal(e.kind, kind, e.message);
    return e;
  }
  assert.fail(`accepted: ${JSON.stringify(input)}`);
};

test("every shared vector: valid → canonical and ID, invalid → rejected", () => {
  assert.ok(vectors.length >= 150);
  for (const v of vectors) {
    if (v.valid) {
      const s = parseSchematic(v.in);
      assert.equal(canonicalSchematic(s), v.canonical, JSON.stringify(v.in));
      assert.equal(schematicId(s), v.id, JSON.stringify(v.in));
    } else {
      rejects(v.in);
    }
  }
});

test("the boot-assets guide's schematics give their IDs", () => {
  const bareMetal = `# bare-metal.yaml
customization:
  extraKernelArgs:
    - net.ifnames=0
  systemExtensions:
    officialExtensions:
      - siderolabs/gvisor
      - siderolabs/intel-ucode
`;
  assert.equal(
    schematicId(parseSchematic(bareMetal)),
    "b8e8fbbe1b520989e6c52c8dc8303070cb42095997e76e812fa8892393e1d176",
  );
  const aws = `# aws.yaml
customization:
  systemExtensions:
    officialExtensions:
      - siderolabs/gvisor
`;
  assert.equal(
    schematicId(parseSchematic(aws)),
    "d9ff89777e246792e7642abd3220a616afb4e49822382e4213a2e528ab826fe5",
  );
  // The guide prints 0db665ed… for this one, computed by an older factory; today's upstream
  // code gives f47e6cd2….
  const rpi = `# rpi_generic.yaml
overlay:
  name: rpi_generic
  image: siderolabs/sbc-raspberrypi
customization:
  systemExtensions:
    officialExtensions:
      - siderolabs/iscsi-tools
`;
  const id = schematicId(parseSchematic(rpi));
  assert.equal(id, "f47e6cd2634c7a96988861031bcc4144468a1e3aef82cca4f5b5ca3fffef778a");
  assert.notEqual(id, "0db665edfda21c70194e7ca660955425d16cec2aa58ff031e2abf72b7c328585");
});

test("programmatic schematics give the same IDs", () => {
  const s = createSchematic({
    customization: {
      extraKernelArgs: ["net.ifnames=0"],
      systemExtensions: { officialExtensions: ["siderolabs/gvisor", "siderolabs/intel-ucode"] },
    },
  });
  assert.equal(schematicId(s), "b8e8fbbe1b520989e6c52c8dc8303070cb42095997e76e812fa8892393e1d176");
  assert.equal(canonicalSchematic(createSchematic()), "customization: {}\n");
  const withOptions = createSchematic({
    overlay: {
      name: "rpi_generic",
      image: "siderolabs/sbc-raspberrypi",
      options: new GoMap({ configTxtAppend: "dtoverlay=vc4-fkms-v3d" }),
    },
  });
  assert.equal(schematicId(withOptions), "0b1ea6e277c738e87ae9bcbde21c915f33180a79d1a1f7c47e828d075f489d72");
});

test("errors name the line, column and field", () => {
  let e = rejects("customization:\n  meta:\n    - key: 300\n      value: x\n");
  assert.equal(e.line, 3);
  assert.equal(e.path, "customization.meta[0].key");
  assert.match(e.message, /^line 3, column 12: customization\.meta\[0\]\.key: .*uint8/);
  e = rejects("customization:\n  systemExtensions:\n    officialExtension: [a]\n");
  assert.equal(e.line, 3);
  assert.equal(e.path, "customization.systemExtensions.officialExtension");
  assert.match(e.message, /field officialExtension not found/);
  e = rejects("customization:\n  bootloader: auto\n");
  assert.equal(e.path, "customization.bootloader");
  assert.match(e.message, /"auto" is not a valid bootloader \(none, dual-boot, sd-boot, grub\)/);
  e = rejects("customization: [\n");
  assert.ok(e.line !== undefined);
  e = rejects('{"owner": "bob"}');
  assert.equal(e.path, "owner");
});

test("meta keys: hex, octal, binary, underscores and lossless floats as go-yaml reads them", () => {
  for (const k of [
    "10",
    "0xa",
    "0XA",
    "012",
    "0o12",
    "0b1010",
    "1_0",
    "+10",
    "10.0",
    "!!int 10",
    "!!float 10",
  ]) {
    const s = parseSchematic(`customization:\n  meta:\n    - key: ${k}\n      value: v\n`);
    assert.equal(s.customization.meta[0]!.key, 10, k);
  }
  for (const k of [
    "256",
    "-1",
    "'10'",
    '"10"',
    "10.5",
    "true",
    "0x100",
    "09.5",
    "2001-12-14",
    "[1]",
    "{a: 1}",
    "!!str 10",
  ]) {
    rejects(`customization:\n  meta:\n    - key: ${k}\n      value: v\n`);
  }
  assert.equal(parseSchematic("customization:\n  meta:\n    - key: 255\n").customization.meta[0]!.key, 255);
  // Not octal, so go-yaml reads it as the float 8, which fits losslessly.
  assert.equal(parseSchematic("customization:\n  meta:\n    - key: 08\n").customization.meta[0]!.key, 8);
});

test("string fields keep the source text; null list items are dropped", () => {
  const s = parseSchematic("customization:\n  extraKernelArgs: [1.50, true, yes, null, 0x10, '', ~, 1e3]\n");
  assert.deepEqual(s.customization.extraKernelArgs, ["1.50", "true", "yes", "0x10", "", "1e3"]);
  assert.equal(
    canonicalSchematic(s),
    'customization:\n    extraKernelArgs:\n        - "1.50"\n        - "true"\n        - \'yes\'\n        - "0x10"\n        - ""\n        - "1e3"\n',
  );
  const m = parseSchematic(
    "customization:\n  meta:\n    - key: 1\n      value: 1.50\n    - key: 2\n      value: ~\n",
  );
  assert.deepEqual(
    m.customization.meta.map((x) => x.value),
    ["1.50", ""],
  );
  // go-yaml cannot put a timestamp into a string.
  rejects("customization:\n  extraKernelArgs: [2001-12-14]\n");
});

test("bool fields take YAML 1.1 words; bootloader is case-insensitive like enumer", () => {
  for (const [v, want] of [
    ["yes", true],
    ["On", true],
    ["'y'", true],
    ["true", true],
    ["no", false],
    ["OFF", false],
    ["~", false],
  ] as const) {
    const s = parseSchematic(`customization:\n  secureboot:\n    includeWellKnownCertificates: ${v}\n`);
    assert.equal(s.customization.secureboot.includeWellKnownCertificates, want, v);
  }
  rejects("customization:\n  secureboot:\n    includeWellKnownCertificates: 1\n");
  rejects("customization:\n  secureboot:\n    includeWellKnownCertificates: maybe\n");
  assert.equal(parseSchematic("customization:\n  bootloader: GRUB\n").customization.bootloader, "grub");
  assert.equal(
    canonicalSchematic(parseSchematic("customization:\n  bootloader: None\n")),
    "customization: {}\n",
  );
  assert.equal(
    canonicalSchematic(parseSchematic("customization:\n  bootloader: dual-boot\n")),
    "customization:\n    bootloader: dual-boot\n",
  );
  for (const b of ["auto", "uefi", "''", "1", "[grub]"]) rejects(`customization:\n  bootloader: ${b}\n`);
});

test("overlay options keep go-yaml's types and key order", () => {
  const s = parseSchematic(`overlay:
  name: x
  options:
    hex: 0x10
    f: 1.50
    big: 1e6
    frac: 1000000.5
    date: 2001-12-14
    n: null
    'no': no
    list: [1, "2", ~]
    nested: {2: b, 1: a, x: 1}
`);
  assert.equal(
    canonicalSchematic(s),
    `overlay:
    image: ""
    name: x
    options:
        big: 1e+06
        date: 2001-12-14T00:00:00Z
        f: 1.5
        frac: 1.0000005e+06
        hex: 16
        list:
            - 1
            - "2"
            - null
        'n': null
        nested:
            1: a
            2: b
            x: 1
        'no': 'no'
customization: {}
`,
  );
  assert.ok(s.overlay.options?.entries.some(([k, v]) => k === "f" && v instanceof GoFloat));
});

test("anchors, aliases and merge keys are expanded", () => {
  const s = parseSchematic(`customization:
  extraKernelArgs: &args [a, b]
  meta:
    - &m {key: 1, value: x}
    - *m
  systemExtensions:
    officialExtensions: *args
`);
  assert.deepEqual(s.customization.meta, [
    { key: 1, value: "x" },
    { key: 1, value: "x" },
  ]);
  assert.deepEqual(s.customization.systemExtensions.officialExtensions, ["a", "b"]);
  const merged = parseSchematic(`customization:
  systemExtensions: &ext
    officialExtensions: [siderolabs/gvisor]
  secureboot:
    <<: {enrollKeys: force}
overlay:
  <<: [{name: a, image: i}, {name: b}]
  name: c
`);
  assert.equal(merged.overlay.name, "c");
  assert.equal(merged.overlay.image, "i");
  assert.equal(merged.customization.secureboot.enrollKeys, "force");
  rejects("customization: &a\n  <<: *a\n");
  rejects("customization:\n  extraKernelArgs: &a [*a]\n");
  rejects("customization:\n  extraKernelArgs: *nope\n");
  rejects("customization:\n  <<: {unknown: 1}\n");
});

test("alias bombs are rejected quickly", () => {
  const started = Date.now();
  rejects(aliasBomb(9, 10));
  rejects(
    `customization:\n  meta:\n    - key: 1\n      value: &v "${"x".repeat(1 << 19)}"\noverlay:\n  options:\n    a: [${"*v, ".repeat(60)}*v]\n`,
    "too-large",
  );
  assert.ok(Date.now() - started < 5000);
});

test("size, encoding and document rules", () => {
  const big = `customization:\n  extraKernelArgs:\n    - ${"x".repeat(MAX_SCHEMATIC_BYTES)}\n`;
  const e = rejects(big, "too-large");
  assert.match(e.message, /1 MiB/);
  rejects(new Uint8Array(MAX_SCHEMATIC_BYTES + 1), "too-large");
  rejects("");
  rejects("# only a comment\n");
  rejects(new Uint8Array([0x63, 0x3a, 0xff, 0x0a]));
  rejects('customization:\n  extraKernelArgs: ["\\ud800"]\n');
  rejects("customization:\n  extraKernelArgs: [a\u0001]\n");
  assert.equal(canonicalSchematic(parseSchematic("---\n")), "customization: {}\n");
  assert.equal(canonicalSchematic(parseSchematic("null\n")), "customization: {}\n");
  const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode("customization: {}\n")]);
  assert.equal(canonicalSchematic(parseSchematic(bom)), "customization: {}\n");
  const utf16 = Buffer.from("\ufeffcustomization:\n  bootloader: grub\n", "utf16le");
  assert.equal(parseSchematic(new Uint8Array(utf16)).customization.bootloader, "grub");
  assert.equal(canonicalSchematic(parseSchematic("customization: {}\n---\n: [")), "customization: {}\n");
  rejects('customization:\n  extraKernelArgs: ["a\\u2028b"]\n');
});

// --- properties -----------------------------------------------------------------------------

const KNOWN_UNREADABLE = /\|[1-9][-+]?\n/;

test("property: canonical(decode(canonical(x))) == canonical(x)", () => {
  const g = new Gen(0x5eed);
  let checked = 0;
  for (let i = 0; i < 400; i++) {
    const x = arbitrarySchematic(g);
    const canonical = canonicalSchematic(x);
    let again: string;
    try {
      again = canonicalSchematic(parseSchematic(canonical));
    } catch (e) {
      // go-yaml's own output for block scalars with an indentation indicator inside sequences
      // cannot be read back by any parser; the bytes must still be upstream's.
      if (KNOWN_UNREADABLE.test(canonical)) continue;
      throw e;
    }
    assert.equal(again, canonical);
    checked++;
  }
  assert.ok(checked > 300);
});

test("property: IDs are stable under key reordering and JSON/YAML spelling", () => {
  const g = new Gen(42);
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const x: Schematic = arbitrarySchematic(g, { jsonSafe: true });
    const id = schematicId(x);
    const json = spellAsJson(g, x);
    assert.equal(schematicId(parseSchematic(json)), id, json);
    const yaml = spellAsYaml(g, x);
    if (KNOWN_UNREADABLE.test(yaml)) continue;
    assert.equal(schematicId(parseSchematic(yaml)), id, yaml);
    checked++;
  }
  assert.ok(checked > 200);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../test/helpers/shared.js";

const run = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(REPO_ROOT, "bin", "image-factory.js"), ...args], {
    input,
    encoding: "utf8",
    cwd: REPO_ROOT,
    timeout: 60_000,
  });

const BARE_METAL = `customization:
  extraKernelArgs:
    - net.ifnames=0
  systemExtensions:
    officialExtensions:
      - siderolabs/gvisor
      - siderolabs/intel-ucode
`;

test("schematic id - reads stdin and prints the canonical YAML, then the ID", () => {
  const r = run(["schematic", "id", "-"], BARE_METAL);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    "customization:\n    extraKernelArgs:\n        - net.ifnames=0\n    systemExtensions:\n        officialExtensions:\n" +
      "            - siderolabs/gvisor\n            - siderolabs/intel-ucode\n" +
      "b8e8fbbe1b520989e6c52c8dc8303070cb42095997e76e812fa8892393e1d176\n",
  );
});

test("schematic id <file> and --json", () => {
  const dir = mkdtempSync(join(tmpdir(), "bootforge-cli-"));
  const file = join(dir, "aws.json");
  writeFileSync(
    file,
    '{"customization": {"systemExtensions": {"officialExtensions": ["siderolabs/gvisor"]}}}',
  );
  const r = run(["schematic", "id", "--json", file]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    id: "d9ff89777e246792e7642abd3220a616afb4e49822382e4213a2e528ab826fe5",
    schematic:
      "customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/gvisor\n",
  });
});

test("invalid input: message on stderr naming line and field, exit code 2", () => {
  const r = run(["schematic", "id", "-"], "customization:\n  meta:\n    - key: 300\n      value: x\n");
  assert.equal(r.status, 2);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^image-factory: line 3, column 12: customization\.meta\[0\]\.key: /);
  const unknown = run(["schematic", "id", "-"], "customization:\n  extraKernelArg: [a]\n");
  assert.equal(unknown.status, 2);
  assert.match(
    unknown.stderr,
    /line 2, column 3: customization\.extraKernelArg: field extraKernelArg not found/,
  );
  assert.equal(run(["schematic", "id", "/nonexistent/schematic.yaml"]).status, 2);
  assert.equal(run(["schematic", "nope"]).status, 2);
});

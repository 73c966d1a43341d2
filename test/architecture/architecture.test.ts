/**
 * The import rules and the guide to the tree: `npm run lint`'s dependency-cruiser check fails on a
 * small tree that breaks each rule (an import cycle, a cycle of type-only imports, I/O in a pure
 * floor, a pure floor importing a floor above it, library code importing the fixture builder) and
 * passes on the real src/; docs/architecture.md names every folder under src/.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import type * as Fixtures from "../../fixtures/index.js";
import type { DemoReleaseBuilder } from "../../src/cli/image-factory.js";

const REPO = join(import.meta.dirname, "..", "..");
const BAD_TREE = join(import.meta.dirname, "bad-tree");

// Type-checked, never run: the demo loads the fixture builder by a computed path, so only this
// line notices when the builder stops offering what the demo uses.
const _demoShape = (f: typeof Fixtures): DemoReleaseBuilder => f;

/** The dependency-cruiser command of `npm run lint`, run in `cwd`: its exit status and output. */
function importCheck(cwd: string): { status: number | null; output: string } {
  const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { scripts: { lint: string } };
  const command = pkg.scripts.lint
    .split("&&")
    .map((c) => c.trim())
    .find((c) => c.startsWith("depcruise "));
  assert.ok(command, "npm run lint runs dependency-cruiser");
  const [, ...args] = command.split(/\s+/);
  // The config is named relative to the repository; the tree checked is `src` under `cwd`.
  const absolute = args.map((a, i) => (args[i - 1] === "--config" ? join(REPO, a) : a));
  const r = spawnSync(join(REPO, "node_modules", ".bin", "depcruise"), absolute, { cwd, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The `error <rule>: …` blocks of a dependency-cruiser report, one string per violation. */
function violations(output: string): string[] {
  return output
    .split(/\n(?=\s*error )/)
    .map((b) => b.replace(/\s+/g, " ").trim())
    .filter((b) => b.startsWith("error "));
}

test("the import check fails on a tree with cycles and forbidden imports, naming each one", () => {
  const { status, output } = importCheck(BAD_TREE);
  assert.notEqual(status, 0, output);
  const found = violations(output);
  const expect = (rule: string, ...files: string[]) =>
    assert.ok(
      found.some((v) => v.startsWith(`error ${rule}:`) && files.every((f) => v.includes(f))),
      `expected ${rule} naming ${files.join(", ")} in:\n${output}`,
    );
  expect("no-cycle", "src/imager/cycle-a.ts", "src/imager/cycle-b.ts");
  // Only type-only imports make this cycle: it shows that they count.
  expect("no-cycle", "src/factory/services.ts", "src/factory/registry.ts");
  expect("pure-floor-no-io", "src/formats/leaky-codec.ts", "fs");
  expect("pure-floor-no-effects", "src/schematic/reaches-up.ts", "src/imager/engine.ts");
  expect("src-not-tooling", "src/cli/demo.ts", "fixtures/builder.ts");
  assert.equal(found.length, 5, `exactly the five planted problems (test code may use files):\n${output}`);
});

test("the import check passes on src/", () => {
  const { status, output } = importCheck(REPO);
  assert.equal(status, 0, output);
  assert.match(output, /no dependency violations found/);
});

test("docs/architecture.md names every folder under src/ (testdata folders aside)", () => {
  const guide = readFileSync(join(REPO, "docs", "architecture.md"), "utf8");
  const folders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory() || e.name === "testdata") continue;
      folders.push(relative(REPO, join(dir, e.name)));
      walk(join(dir, e.name));
    }
  };
  walk(join(REPO, "src"));
  assert.ok(folders.length > 10);
  const missing = folders.filter((f) => !guide.includes(`${f}/`));
  assert.deepEqual(missing, [], "each folder appears as `src/…/` in docs/architecture.md");
});

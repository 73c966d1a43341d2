/**
 * Every imager flag the README lists as supported is accepted (exit 0, never 3 "unsupported") and
 * does what it says to the resolved profile, checked through `--dry-run` (the profile upstream
 * prints after `profile ready:`); real builds with these flags are proven elsewhere (imager-cli,
 * disk-images, secureboot, boot). The flags are read from the README itself, so a flag the README
 * promises without a case here fails this test.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { REPO_ROOT } from "../helpers/shared.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bootforge-flags-"));
  await writeFile(join(dir, "config.yaml"), "version: v1alpha1\n");
});
after(() => rm(dir, { recursive: true, force: true }));

/** The flags the README's imager section promises: the upstream set and the ones Bootforge adds. */
async function readmeFlags(): Promise<string[]> {
  const readme = await readFile(join(REPO_ROOT, "README.md"), "utf8");
  const start = readme.indexOf("## The imager");
  const section = readme.slice(start, readme.indexOf("\nRefused (exit 3)", start));
  assert.ok(start >= 0 && section.length > 0, "README has an imager section");
  return [...new Set([...section.matchAll(/`(--[a-z][a-z0-9-]*)/g)].map((m) => m[1]!))].sort();
}

/** Runs `imager metal <args> --dry-run` offline; exit code and the printed profile. */
function dryRun(
  args: readonly string[],
  profile = "metal",
): { code: number | null; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    [
      join(REPO_ROOT, "bin", "imager.js"),
      profile,
      "--talos-version",
      "v1.11.0",
      "--arch",
      "amd64",
      "--cache-dir",
      join(dir, "cache"),
      "--secureboot-keys-dir",
      join(dir, "keys"),
      ...args,
      "--dry-run",
    ],
    { encoding: "utf8", timeout: 60_000 },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * For each flag: its arguments, and what the resolved profile must then show (a substring), or
 * `null` for flags that choose where things come from or go, which the profile does not record.
 */
const CASES: Record<string, { args: string[]; shows: string | null; profile?: string }> = {
  "--arch": { args: ["--arch", "arm64"], shows: "arch: arm64" },
  "--platform": { args: ["--platform", "aws"], shows: "platform: aws" },
  "--output": { args: ["--output", "/tmp/elsewhere"], shows: null },
  "--output-kind": { args: ["--output-kind", "kernel"], shows: "kind: kernel" },
  "--extra-kernel-arg": { args: ["--extra-kernel-arg", "net.ifnames=0"], shows: "net.ifnames=0" },
  "--meta": { args: ["--meta", "0xa=flag-test"], shows: "flag-test" },
  "--system-extension-image": {
    args: ["--system-extension-image", "ghcr.io/siderolabs/bootforge-hello:1.0.0"],
    shows: "ghcr.io/siderolabs/bootforge-hello:1.0.0",
  },
  "--base-installer-image": {
    args: ["--base-installer-image", "ghcr.io/siderolabs/installer-base:v1.11.0-flag"],
    shows: "installer-base:v1.11.0-flag",
    profile: "installer",
  },
  "--overlay-image": {
    args: ["--overlay-image", "ghcr.io/siderolabs/sbc-bootforge:v0.1.0", "--overlay-name", "bootforge"],
    shows: "sbc-bootforge:v0.1.0",
  },
  "--overlay-name": {
    args: ["--overlay-image", "ghcr.io/siderolabs/sbc-bootforge:v0.1.0", "--overlay-name", "flagname"],
    shows: "name: flagname",
  },
  "--overlay-option": {
    args: [
      "--overlay-image",
      "ghcr.io/siderolabs/sbc-bootforge:v0.1.0",
      "--overlay-name",
      "bootforge",
      "--overlay-option",
      "flagkey=flagvalue",
    ],
    shows: "flagkey",
  },
  "--image-cache": { args: ["--image-cache", "ghcr.io/example/cache:v1"], shows: "ghcr.io/example/cache:v1" },
  "--embedded-config-path": {
    args: ["--embedded-config-path", "CONFIG"],
    shows: "embeddedMachineConfiguration",
  },
  "--insecure": { args: ["--insecure"], shows: null },
  "--tar-to-stdout": { args: ["--tar-to-stdout"], shows: null },
  "--secureboot-enroll-keys": {
    args: ["--secureboot-enroll-keys", "force"],
    shows: "force",
    profile: "secureboot-iso",
  },
  "--secureboot-include-well-known-certs": {
    args: ["--secureboot-include-well-known-certs"],
    shows: "includeWellKnownCerts: true",
    profile: "secureboot-iso",
  },
  "--secureboot-signer-address": {
    args: ["--secureboot-signer-address", "unix:///run/flag-signer.sock"],
    shows: "unix:///run/flag-signer.sock",
    profile: "secureboot-iso",
  },
  "--pcr-signer-address": {
    args: ["--pcr-signer-address", "unix:///run/flag-pcr.sock"],
    shows: "unix:///run/flag-pcr.sock",
    profile: "secureboot-iso",
  },
  "--talos-version": { args: ["--talos-version", "1.12.0"], shows: "version: v1.12.0" },
  "--release-source": { args: ["--release-source", "oci-layout:/nonexistent"], shows: null },
  "--secureboot-keys-dir": { args: ["--secureboot-keys-dir", "/tmp/other-keys"], shows: null },
  "--cache-dir": { args: ["--cache-dir", "/tmp/other-cache"], shows: null },
  "--dry-run": { args: [], shows: "platform: metal" },
  "--secureboot": { args: ["--secureboot"], shows: "secureboot: true" },
  "--no-secureboot": { args: ["--no-secureboot"], shows: "secureboot: false", profile: "secureboot-iso" },
};

test("every imager flag the README lists is covered here", async () => {
  assert.deepEqual(await readmeFlags(), Object.keys(CASES).sort());
});

test("every supported imager flag is accepted (never exit 3) and shows in the resolved profile", () => {
  const baselines = new Map<string, ReturnType<typeof dryRun>>();
  for (const [flag, c] of Object.entries(CASES)) {
    const profile = c.profile ?? "metal";
    const args = c.args.map((a) => (a === "CONFIG" ? join(dir, "config.yaml") : a));
    const base = baselines.get(profile) ?? dryRun([], profile);
    baselines.set(profile, base);
    assert.equal(base.code, 0, `baseline ${profile}: ${base.err}`);
    const r = dryRun(args, profile);
    assert.notEqual(r.code, 3, `${flag} is refused as unsupported: ${r.err}`);
    assert.equal(r.code, 0, `${flag}: exit ${r.code}: ${r.err}`);
    if (c.shows !== null) {
      assert.ok(
        r.out.includes(c.shows),
        `${flag}: the profile does not show ${JSON.stringify(c.shows)}:\n${r.out}`,
      );
      if (flag !== "--dry-run")
        assert.ok(!base.out.includes(c.shows), `${flag}: the baseline already shows it`);
    }
  }
});

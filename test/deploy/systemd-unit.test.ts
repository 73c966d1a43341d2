/**
 * The systemd unit for hosts without containers (deploy/bootforge.service) passes
 * `systemd-analyze verify` without a single warning, runs the compiled factory as an
 * unprivileged dynamic user with state, cache and settings where the README says, and the check
 * itself notices a broken copy.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

const UNIT = join(import.meta.dirname, "..", "..", "deploy", "bootforge.service");

function verify(path: string): { status: number | null; out: string } {
  const r = spawnSync("systemd-analyze", ["verify", path], { encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("deploy/bootforge.service verifies cleanly and a broken copy does not", () => {
  const ok = verify(UNIT);
  assert.equal(ok.status, 0, ok.out);
  assert.equal(ok.out.trim(), "", ok.out);

  const text = readFileSync(UNIT, "utf8");
  const service = Object.fromEntries(
    text
      .split("\n")
      .filter((l) => /^[A-Za-z]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  assert.equal(service.DynamicUser, "yes");
  assert.equal(service.NoNewPrivileges, "yes");
  assert.equal(service.CapabilityBoundingSet, "");
  assert.match(service.ExecStart ?? "", /bin\/image-factory\.js serve$/);
  assert.match(text, /^Environment=BOOTFORGE_DIST=1$/m, "runs the compiled tree");
  assert.match(text, /^Environment=BOOTFORGE_STORAGE_DIR=\/var\/lib\/bootforge\/factory$/m);
  assert.match(text, /^StateDirectory=bootforge$/m);
  // bubblewrap (overlay installers) needs user, mount and PID namespaces.
  for (const ns of ["user", "mnt", "pid"]) assert.ok(service.RestrictNamespaces?.split(" ").includes(ns), ns);

  const dir = mkdtempSync(join(tmpdir(), "bootforge-unit-"));
  try {
    const broken = join(dir, "bootforge.service");
    writeFileSync(broken, text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
    assert.match(verify(broken).out, /Unknown key 'NoNewPrivilege'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * The container image's dependency resolver: Debian version order checked against dpkg itself,
 * and the closure's choices (alternatives, virtual packages, version relations, architectures)
 * on a small Packages index.
 */
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { test } from "node:test";
import { compareVersions, DebianIndex, parsePackages } from "../../scripts/image/debian-index.js";

const exec = promisify(execFile);

test("versions order as dpkg --compare-versions says", async () => {
  const versions = [
    "1.0",
    "1.0-1",
    "1.0-1+b1",
    "1.0~rc1-1",
    "1:0.9",
    "1.0a",
    "1.0+dfsg-1",
    "1.00",
    "20.19.2+dfsg-1+deb13u3",
    "20.19.2+dfsg-1",
    "2.41-12+deb13u5",
    "2.41-12",
    "0.5.12-12",
    "1.0.0~~",
    "1.0.0~",
  ];
  for (const a of versions)
    for (const b of versions) {
      const lt = await exec("dpkg", ["--compare-versions", a, "lt", b]).then(
        () => true,
        () => false,
      );
      const eq = await exec("dpkg", ["--compare-versions", a, "eq", b]).then(
        () => true,
        () => false,
      );
      const c = compareVersions(a, b);
      assert.equal(Math.sign(c), lt ? -1 : eq ? 0 : 1, `${a} vs ${b}`);
    }
});

const INDEX = `Package: app
Version: 1.0-1
Architecture: arm64
Pre-Depends: libc6 (>= 2.38)
Depends: libssl3t64 | libssl3, mail-transport-agent | exim4, libold (<< 2), tool:any
SHA256: ${"a".repeat(64)}

Package: libc6
Version: 2.41-12
Architecture: arm64
SHA256: ${"b".repeat(64)}

Package: libc6
Version: 2.41-12+deb13u5
Architecture: arm64
SHA256: ${"c".repeat(64)}

Package: libc6
Version: 9.99-1
Architecture: amd64
SHA256: ${"d".repeat(64)}

Package: libssl3t64
Version: 3.5.1-1
Architecture: arm64
Depends: libc6
SHA256: ${"e".repeat(64)}

Package: postfix
Version: 3.10-1
Architecture: arm64
Provides: mail-transport-agent
SHA256: ${"f".repeat(64)}

Package: exim4
Version: 4.98-1
Architecture: all
SHA256: ${"0".repeat(64)}

Package: libold
Version: 3.0-1
Architecture: arm64
SHA256: ${"1".repeat(64)}

Package: libold-compat
Version: 1.0-1
Architecture: arm64
Provides: libold (= 1.9)
SHA256: ${"2".repeat(64)}

Package: tool
Version: 1.0-1
Architecture: all
Depends: app
SHA256: ${"3".repeat(64)}
`;

test("the closure follows Pre-Depends and Depends, newest version, first satisfiable alternative", () => {
  const index = new DebianIndex(parsePackages(INDEX, "arm64"));
  const got = index.closure(["app"]).map((p) => `${p.name}=${p.version}`);
  assert.deepEqual(got, [
    "app=1.0-1",
    "libc6=2.41-12+deb13u5", // the newest arm64 one: amd64's is another architecture
    "libold-compat=1.0-1", // the real libold is too new for (<< 2); a provider's version meets it
    "libssl3t64=3.5.1-1",
    "postfix=3.10-1", // a virtual package's provider
    "tool=1.0-1", // arch all, :any stripped; its dependency cycle back to app ends
  ]);
});

test("an unsatisfiable dependency names the package and the relation", () => {
  const index = new DebianIndex(parsePackages(INDEX.replace("libold (<< 2)", "libold (>= 4)"), "arm64"));
  assert.throws(() => index.closure(["app"]), /app 1\.0-1: nothing in the index satisfies "libold \(>= 4\)"/);
  assert.throws(() => index.closure(["nope"]), /no Debian package nope/);
});

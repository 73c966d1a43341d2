import assert from "node:assert/strict";
import {
  chmod,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isBootforgeError } from "../../errors/index.js";
import { copyTree } from "./copy-tree.js";

/** Every entry below `root`: path, type, permission bits, and content or link target. */
async function describeTree(root: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(root, rel))).sort()) {
    const p = join(rel, name);
    const st = await lstat(join(root, p));
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) out.push(`${p} link ${await readlink(join(root, p))}`);
    else if (st.isDirectory()) out.push(`${p} dir ${mode}`, ...(await describeTree(root, p)));
    else out.push(`${p} file ${mode} ${(await readFile(join(root, p))).toString("hex")} nlink=${st.nlink}`);
  }
  return out;
}

test("copyTree makes the same tree as fs.cp with verbatim symlinks", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-copytree-"));
  try {
    const src = join(dir, "src");
    await mkdir(join(src, "usr/lib/firmware/vendor"), { recursive: true });
    await writeFile(join(src, "manifest.yaml"), "version: v1alpha1\n");
    await writeFile(join(src, "usr/lib/firmware/vendor/blob.bin"), Buffer.from([0, 1, 2, 255]));
    await writeFile(join(src, "usr/lib/run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(join(src, "usr/lib/ro"), "ro", { mode: 0o444 });
    await symlink("../lib/run.sh", join(src, "usr/lib/rel-link"));
    await symlink("/etc/absolute", join(src, "usr/abs-link"));
    // A hard link inside the source: the copies are separate files, as with fs.cp.
    execFileSync("ln", [join(src, "manifest.yaml"), join(src, "usr/hard")]);
    await chmod(join(src, "usr/lib/firmware/vendor"), 0o555);
    await chmod(join(src, "usr/lib"), 0o750);
    for (let i = 0; i < 40; i++) await writeFile(join(src, `many-${i}`), String(i));

    await cp(src, join(dir, "by-cp"), { recursive: true, verbatimSymlinks: true });
    await copyTree(src, join(dir, "copies", "0"));
    const expected = await describeTree(join(dir, "by-cp"));
    assert.ok(expected.length > 45);
    assert.deepEqual(await describeTree(join(dir, "copies", "0")), expected);
    assert.equal((await lstat(join(dir, "copies", "0"))).mode & 0o7777, (await lstat(src)).mode & 0o7777);
    // The copy is independent of the source.
    await writeFile(join(dir, "copies", "0", "manifest.yaml"), "changed");
    assert.equal(await readFile(join(src, "manifest.yaml"), "utf8"), "version: v1alpha1\n");
    await assert.rejects(copyTree(src, join(dir, "copies", "0")), /EEXIST/);
  } finally {
    execFileSync("chmod", ["-R", "u+w", dir]);
    await rm(dir, { recursive: true, force: true });
  }
});

test("copyTree refuses a source that is not a directory or holds special files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bootforge-copytree-"));
  try {
    await writeFile(join(dir, "f"), "x");
    await assert.rejects(copyTree(join(dir, "f"), join(dir, "out1")), (e: unknown) =>
      isBootforgeError(e, "io"),
    );
    await mkdir(join(dir, "tree"));
    execFileSync("mkfifo", [join(dir, "tree", "fifo")]);
    await assert.rejects(
      copyTree(join(dir, "tree"), join(dir, "out2")),
      (e: unknown) => isBootforgeError(e, "io") && /fifo: not a regular file/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

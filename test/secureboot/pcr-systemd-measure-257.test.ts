/**
 * Bootforge's PCR 11 prediction and signed policies against Debian 13's `systemd-measure` 257, the
 * tool of the systemd-stub the ≥ 1.10 fixture releases carry, for the full section set (`.linux
 * .osrel .cmdline .initrd .ucode .splash .dtb .uname .sbat .pcrpkey`) and for UKI profiles. The
 * host's systemd-measure (Debian 12, 252; `src/imager/secureboot/pcr.test.ts`) knows neither
 * `.uname`/`.sbat` nor `.profile`.
 *
 * systemd-stub 257 measures a profile as the base sections (those before the first `.profile`)
 * with the profile's own sections (its `.profile`, and a `.cmdline` replacing the base one) in
 * the fixed section order; ukify and upstream Talos sign each profile's policy over exactly that
 * set, so `systemd-measure` is given the base files plus `--profile=` and the profile's
 * `--cmdline=`. Last, a SecureBoot ISO built by the imager CLI: its UKI's sections are read back
 * and each profile's embedded `.pcrsig` must equal what `systemd-measure sign` computes for them.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import {
  ensureFixtureRelease,
  fixtureBootFiles,
  fixtureDtb,
  systemdMeasure257,
  type SystemdMeasure,
} from "../../fixtures/index.js";
import {
  bootforgeSplash,
  extraUkiProfiles,
  osRelease,
  profileText,
  type UkiProfile,
} from "../../src/formats/pe/index.js";
import { cpioChunks } from "../../src/imager/initramfs/cpio-file.js";
import { discoverKernelVersion, planUkiSections, type ByteSource } from "../../src/imager/uki/index.js";
import {
  addPcrSignatures,
  generateSecureBootKeys,
  localSigner,
  pcrPublicKeyPem,
  predictPcr11,
  signPcrPolicy,
  TALOS_PHASES,
  type HashName,
  type PcrSignature,
  type Phase,
} from "../../src/imager/secureboot/index.js";
import { runImager } from "../helpers/run-imager.js";

const VERSION = "v1.11.0";
const EPOCH = "1700000000";
const BANKS: readonly HashName[] = ["sha256", "sha384", "sha512"];
/** Talos' phase path: the only policy it signs is the one after `enter-machined`. */
const TALOS_PATH = TALOS_PHASES.map((p) => p.phase).join(":");
const CMDLINE = "talos.platform=metal console=ttyS0 console=tty0 init_on_alloc=1 slab_nomerge pti=on";
/** The sections systemd-stub 257 measures, in its order (`.pcrsig` is never measured). */
const MEASURED = [
  ".linux", ".osrel", ".cmdline", ".initrd", ".ucode", ".splash", ".dtb", ".uname", ".sbat", ".pcrpkey",
  ".profile", ".dtbauto", ".hwids",
]; // prettier-ignore

const pcrKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const signer = localSigner(pcrKey);

let measure: SystemdMeasure;
let dir = "";
let release = "";
let boot: ReturnType<typeof fixtureBootFiles>;
let keyFile = "";
/** The full section set as files: section name → path. */
const base: Record<string, string> = {};

/** One PE section as the firmware loads it: VirtualSize bytes (raw data, zero-filled beyond it). */
interface PeSection {
  name: string;
  data: Buffer;
}

/** The section table of a PE image, read independently of Bootforge's PE code. */
function peSections(image: Buffer): PeSection[] {
  const pe = image.readUInt32LE(0x3c);
  assert.equal(image.toString("latin1", pe, pe + 4), "PE\0\0");
  const count = image.readUInt16LE(pe + 6);
  const optionalHeaderSize = image.readUInt16LE(pe + 20);
  const out: PeSection[] = [];
  for (let i = 0, h = pe + 24 + optionalHeaderSize; i < count; i++, h += 40) {
    const name = image.toString("latin1", h, h + 8).replace(/\0+$/, "");
    const virtualSize = image.readUInt32LE(h + 8);
    const rawSize = image.readUInt32LE(h + 16);
    const rawPointer = image.readUInt32LE(h + 20);
    const data = Buffer.alloc(virtualSize);
    image.copy(data, 0, rawPointer, rawPointer + Math.min(virtualSize, rawSize));
    out.push({ name, data });
  }
  return out;
}

/** What the sandbox sees: the work directory (keys included) and the release's boot files. */
const visible = (): string[] => [dir, dirname(boot.vmlinuz)];

/** `--linux=… --osrel=… …` for a set of section files. */
const sectionArgs = (files: Record<string, string>): string[] =>
  Object.entries(files).map(([name, path]) => `--${name.slice(1)}=${path}`);

const sources = (files: Record<string, string>): Map<string, ByteSource> =>
  new Map(Object.entries(files).map(([name, path]) => [name, { path }]));

/** `systemd-measure calculate` for every bank: bank → phase path → PCR 11 (hex). */
async function calculate(
  files: Record<string, string>,
  phasePaths: readonly string[] = [],
): Promise<Map<string, Map<string, string>>> {
  const out = await measure.run(
    [
      "calculate",
      "--json=short",
      ...sectionArgs(files),
      ...BANKS.map((b) => `--bank=${b}`),
      ...phasePaths.map((p) => `--phase=${p}`),
    ],
    visible(),
  );
  const json = JSON.parse(out) as Record<string, { phase: string; pcr: number; hash: string }[]>;
  return new Map(
    Object.entries(json).map(([bank, entries]) => {
      for (const e of entries) assert.equal(e.pcr, 11);
      return [bank, new Map(entries.map((e) => [e.phase, e.hash]))];
    }),
  );
}

/** `systemd-measure sign` with a PCR key under the work directory, every bank, Talos' phase path: the `.pcrsig` object. */
async function sign(files: Record<string, string>, key = keyFile): Promise<PcrSignature> {
  const out = await measure.run(
    [
      "sign",
      "--json=short",
      ...sectionArgs(files),
      ...BANKS.map((b) => `--bank=${b}`),
      `--phase=${TALOS_PATH}`,
      `--private-key=${key}`,
    ],
    visible(),
  );
  return JSON.parse(out) as PcrSignature;
}

/**
 * Bootforge's PCR 11 after each phase path `a:b:c`, every bank: path → bank → hex. One
 * `predictPcr11` per path that is no other's prefix: its value after each phase is a prefix's.
 */
async function predicted(
  files: Record<string, string>,
  paths: Iterable<string>,
): Promise<Map<string, Map<HashName, string>>> {
  const out = new Map<string, Map<HashName, string>>();
  const longestFirst = [...new Set(paths)].sort((a, b) => b.split(":").length - a.split(":").length);
  for (const path of longestFirst) {
    if (out.has(path)) continue;
    const names = path.split(":");
    const phases: Phase[] = names.map((phase) => ({ phase, sign: true }));
    const values = await predictPcr11(sources(files), phases, BANKS);
    for (const i of names.keys())
      out.set(
        names.slice(0, i + 1).join(":"),
        new Map(BANKS.map((b) => [b, values.get(b)![i]!.toString("hex")])),
      );
  }
  return out;
}

/** Asserts Bootforge's prediction equals systemd-measure's for each bank and phase path it printed. */
async function assertAgrees(files: Record<string, string>, phasePaths: readonly string[], what: string) {
  const theirs = await calculate(files, phasePaths);
  assert.deepEqual([...theirs.keys()].sort(), [...BANKS].sort(), what);
  const ours = await predicted(
    files,
    [...theirs.values()].flatMap((byPhase) => [...byPhase.keys()]),
  );
  for (const [bank, byPhase] of theirs) {
    // systemd-measure prints the paths it was given sorted.
    if (phasePaths.length > 0)
      assert.deepEqual([...byPhase.keys()], [...phasePaths].sort(), `${what} ${bank}`);
    for (const [path, hash] of byPhase)
      assert.equal(ours.get(path)?.get(bank as HashName), hash, `${what}: ${bank} ${path}`);
  }
  return theirs;
}

/** Writes `content` as a section file in the work directory. */
async function sectionFile(name: string, content: string | Buffer | Uint8Array): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, content);
  return p;
}

before(async () => {
  release = (await ensureFixtureRelease()).dir;
  measure = await systemdMeasure257();
  dir = await mkdtemp(join(tmpdir(), "bootforge-measure257-"));
  boot = fixtureBootFiles(release, VERSION, "amd64");
  // systemd-measure refuses a private key others may read.
  keyFile = join(dir, "pcr-signing-key.pem");
  await writeFile(keyFile, pcrKey.export({ type: "pkcs1", format: "pem" }), { mode: 0o600 });

  const uname = await discoverKernelVersion({ path: boot.vmlinuz });
  assert.ok(uname !== undefined && /^\d+\.\d+\.\d+-\d+-amd64$/.test(uname), `kernel release ${uname}`);
  const stubSbat = peSections(await readFile(boot.stub)).find((s) => s.name === ".sbat");
  assert.ok(stubSbat, "the trixie stub has a .sbat section");
  assert.match(stubSbat.data.toString("latin1"), /^sbat,1,/);
  // An early-microcode cpio as the stub loads it before the initrd (stand-in bytes, not microcode).
  const ucode: Buffer[] = [];
  const blob = Buffer.alloc(4096, "BOOTFORGE FIXTURE GenuineIntel microcode\n");
  for await (const c of cpioChunks(
    [
      { kind: "dir", name: "kernel", mode: 0o755 },
      { kind: "dir", name: "kernel/x86", mode: 0o755 },
      { kind: "dir", name: "kernel/x86/microcode", mode: 0o755 },
      { kind: "data", name: "kernel/x86/microcode/GenuineIntel.bin", mode: 0o644, data: blob },
    ],
    { mtime: 0 },
  ))
    ucode.push(c);

  base[".linux"] = boot.vmlinuz;
  base[".osrel"] = await sectionFile("osrel", osRelease(VERSION));
  base[".cmdline"] = await sectionFile("cmdline", CMDLINE);
  base[".initrd"] = boot.initramfs;
  base[".ucode"] = await sectionFile("ucode", Buffer.concat(ucode));
  base[".splash"] = await sectionFile("splash", bootforgeSplash());
  base[".dtb"] = await sectionFile("dtb", await readFile(await fixtureDtb()));
  base[".uname"] = await sectionFile("uname", uname);
  base[".sbat"] = await sectionFile("sbat", stubSbat.data);
  base[".pcrpkey"] = await sectionFile("pcrpkey", pcrPublicKeyPem(signer));
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("the checker is Debian 13's systemd-measure 257, run from its own closure", () => {
  assert.match(measure.version, /^systemd 257 \(257\.[0-9]+-/);
});

test("full section set: Bootforge's PCR 11 equals systemd-measure 257 for every bank and phase path", async () => {
  // systemd's own default paths (enter-initrd … ready), then Talos' and a longer custom list.
  const defaults = await assertAgrees(base, [], "default phases");
  assert.deepEqual(
    [...defaults.get("sha256")!.keys()],
    [
      "enter-initrd",
      "enter-initrd:leave-initrd",
      "enter-initrd:leave-initrd:sysinit",
      "enter-initrd:leave-initrd:sysinit:ready",
    ],
  );
  const custom = [TALOS_PATH, "enter-initrd:leave-initrd:sysinit:ready:shutdown:final", "enter-initrd"];
  const talos = await assertAgrees(base, custom, "custom phases");
  // predictPcr11 with Talos' phase list (as signPcrPolicy uses it) gives the same value.
  const ours = await predictPcr11(sources(base), TALOS_PHASES, BANKS);
  for (const bank of BANKS)
    assert.equal(ours.get(bank)![2]!.toString("hex"), talos.get(bank)!.get(TALOS_PATH), bank);
});

test("signed policies equal systemd-measure 257 sign (same key: RSA PKCS#1 v1.5 is deterministic)", async () => {
  const ours = await signPcrPolicy(sources(base), signer, TALOS_PHASES, BANKS);
  assert.deepEqual(await sign(base), ours);
});

/** The profiles under test: `main`, two with their own command line, one without. */
const PROFILES: UkiProfile[] = [
  ...extraUkiProfiles("image", CMDLINE),
  ...extraUkiProfiles("iso", CMDLINE),
  { id: "bootforge-plain", title: "A profile with the base command line" },
];
/** With the builder's own first profile. */
const ALL_PROFILES: UkiProfile[] = [{ id: "main" }, ...PROFILES];

test("UKI profiles: each profile's PCR 11 (base + .profile + its .cmdline) equals systemd-measure 257's", async () => {
  for (const [i, p] of ALL_PROFILES.entries()) {
    const files = {
      ...base,
      ".profile": await sectionFile(`profile-${i}`, profileText(p)),
      ...(p.cmdline ? { ".cmdline": await sectionFile(`profile-${i}-cmdline`, p.cmdline) } : {}),
    };
    await assertAgrees(files, [], `profile ${i} (${p.id}) default phases`);
    await assertAgrees(files, [TALOS_PATH], `profile ${i} (${p.id}) Talos phases`);
  }
});

test("UKI profiles: the builder's per-profile .pcrsig equals systemd-measure 257 sign for that profile", async () => {
  const plan = await planUkiSections(
    {
      stub: boot.stub,
      kernel: { path: boot.vmlinuz },
      initrd: { path: boot.initramfs },
      cmdline: CMDLINE,
      version: VERSION,
      splash: { path: base[".splash"]! },
      profiles: PROFILES,
    },
    pcrPublicKeyPem(signer),
  );
  const sigs = await addPcrSignatures(plan, VERSION, signer);
  assert.equal(sigs.length, PROFILES.length + 1);
  // The builder measures no .ucode or .dtb; every other section is the test's own file.
  const { ".ucode": _u, ".dtb": _d, ...builderBase } = base;
  for (const [i, p] of ALL_PROFILES.entries()) {
    const files = {
      ...builderBase,
      ".profile": await sectionFile(`plan-profile-${i}`, profileText(p)),
      ...(p.cmdline ? { ".cmdline": await sectionFile(`plan-profile-${i}-cmdline`, p.cmdline) } : {}),
    };
    assert.deepEqual(await sign(files), sigs[i], `profile ${i} (${p.id})`);
  }
});

test("a SecureBoot ISO from the imager CLI: each profile's embedded .pcrsig equals systemd-measure 257 sign of its sections", async () => {
  const keys = join(dir, "keys");
  await generateSecureBootKeys(keys, { ukiBits: 2048, notBefore: new Date(Number(EPOCH) * 1000) });
  const out = join(dir, "iso");
  const r = await runImager(["secureboot-iso", "--arch", "amd64"], {
    source: `oci-layout:${release}`,
    version: VERSION,
    cacheDir: join(dir, "imager-cache"),
    out,
    sourceDateEpoch: EPOCH,
    extra: ["--secureboot-keys-dir", keys],
  });
  assert.equal(r.code, 0, r.stderr);
  const uki = join(dir, "talos.efi");
  await promisify(execFile)("xorriso", [
    "-osirrox", "on", "-indev", join(out, "metal-amd64-secureboot.iso"),
    "-extract", `/EFI/Linux/Talos-${VERSION}.efi`, uki,
  ]); // prettier-ignore
  const sections = peSections(await readFile(uki));

  // systemd-stub's view: the base is everything before the first .profile; each profile runs to the next.
  const firstProfile = sections.findIndex((s) => s.name === ".profile");
  assert.ok(firstProfile > 0, "the UKI has profiles");
  const groups: PeSection[][] = [];
  for (const s of sections.slice(firstProfile)) {
    if (s.name === ".profile") groups.push([]);
    groups.at(-1)!.push(s);
  }
  assert.deepEqual(
    groups.map((g) => g.find((s) => s.name === ".profile")!.data.toString()),
    ["ID=main", "ID=reset\nTITLE=Reset system disk"],
  );
  const files = async (secs: PeSection[], tag: string): Promise<Record<string, string>> => {
    const f: Record<string, string> = {};
    for (const s of secs.filter((x) => MEASURED.includes(x.name)))
      f[s.name] = await sectionFile(`iso-${tag}${s.name}`, s.data);
    return f;
  };
  const baseFiles = await files(sections.slice(0, firstProfile), "base");
  assert.deepEqual(Object.keys(baseFiles).sort(), [
    ".cmdline", ".initrd", ".linux", ".osrel", ".pcrpkey", ".sbat", ".splash", ".uname",
  ]); // prettier-ignore
  assert.ok(!sections.slice(0, firstProfile).some((s) => s.name === ".pcrsig"), "no .pcrsig in the base");
  const pcrKeyFile = join(keys, "pcr-signing-key.pem");
  for (const [i, g] of groups.entries()) {
    const embedded = g.filter((s) => s.name === ".pcrsig");
    assert.equal(embedded.length, 1, `profile ${i} has one .pcrsig`);
    const theirs = await sign({ ...baseFiles, ...(await files(g, `p${i}`)) }, pcrKeyFile);
    assert.deepEqual(JSON.parse(embedded[0]!.data.toString("utf8")), theirs, `profile ${i}`);
  }
});

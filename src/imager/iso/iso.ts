/**
 * Talos ISOs (upstream pkg/imager/iso): GRUB BIOS+UEFI, UEFI-only with systemd-boot and a UKI, and
 * the hybrid (BIOS via GRUB, UEFI via systemd-boot). Upstream stages a tree and runs grub-mkrescue
 * or xorrisofs; here GRUB's boot images come from `grub-mkimage` (the same images grub-mkrescue
 * builds), the EFI images from mtools, and `xorriso -as mkisofs` maps every input file into the ISO
 * by graft points, so large inputs are never copied. Fixed dates, UUID, FAT serials and
 * Rock Ridge ownership make two builds byte-identical.
 */
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BootforgeError, invalidInput, ioError, unsupported } from "../../errors/index.js";
import type { Quirks } from "../../profile/quirks.js";
import { isoGrubConfig } from "../grub/config.js";
import { run } from "../tools/run.js";
import {
  efiBootImageSize,
  makeEfiBootImage,
  makeGrubEfiImage,
  type AfterImage,
  type FatFile,
} from "./fat-image.js";
import type { SequenceStep } from "../tools/sequence.js";
import { fatSerial, xorrisoTailCommands } from "./volume.js";

export type IsoArch = "amd64" | "arm64";
/** systemd-boot `secure-boot-enroll` mode written to loader.conf. */
export type SecureBootEnroll = "off" | "manual" | "force" | "if-safe";

/** What every ISO needs. */
export interface IsoCommon {
  output: string;
  /** Scratch directory (created; contents replaced). */
  workDir: string;
  /** Talos version, e.g. `v1.10.3` (volume label, UKI file name). */
  version: string;
  quirks: Quirks;
  arch: IsoArch;
  sourceDateEpoch: number;
  /** Image cache directory, mapped to `/imagecache`. */
  imageCacheDir?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Called once xorriso runs (see `IsoRequest.onFinalTool`). */
  onFinalTool?: () => void;
  /** The parts made ahead by `startIsoGroundwork` (same work directory); started here if absent. */
  groundwork?: IsoGroundwork;
}

/** GRUB module directories from the release (`/usr/lib/grub/<platform>/`). */
export interface GrubModuleDirs {
  /** `i386-pc` (BIOS; amd64 GRUB ISOs and every hybrid ISO). */
  i386pc?: string;
  /** `x86_64-efi` on amd64, `arm64-efi` on arm64. */
  efi?: string;
}

export interface GrubIsoOptions extends IsoCommon {
  kernel: string;
  initramfs: string;
  cmdline: string;
  grubModules: GrubModuleDirs;
}

export interface UefiIsoOptions extends IsoCommon {
  /** systemd-boot EFI binary (signed for SecureBoot). */
  sdBoot: string;
  /** The UKI (signed for SecureBoot). */
  uki: string;
  /** Set while the UKI is still being written: the EFI image is built up to its copy meanwhile. */
  ukiWritten?: UkiWrite;
  /** Default `off`. */
  secureBootEnroll?: SecureBootEnroll;
  /** DER signer certificate, shipped as `/EFI/keys/uki-signing-cert.der` (SecureBoot). */
  signingCertDer?: string;
  /** `PK.auth`, `KEK.auth`, `db.auth` for `loader/keys/auto/`. */
  enrollmentKeys?: { pk: string; kek: string; db: string };
}

/** A UKI still being written: `ready` settles when it is complete; `size` is its final size. */
export interface UkiWrite {
  ready: Promise<void>;
  size: number;
}

export type HybridIsoOptions = GrubIsoOptions & UefiIsoOptions;

/** An ISO file or directory and where it comes from. */
interface Graft {
  iso: string;
  source: string;
}

const EFI_BOOT_NAME: Record<IsoArch, string> = { amd64: "BOOTX64.EFI", arm64: "BOOTAA64.EFI" };
const GRUB_EFI_FORMAT: Record<IsoArch, string> = { amd64: "x86_64-efi", arm64: "arm64-efi" };

function opts(
  o: { signal?: AbortSignal; background?: boolean },
  timeoutMs = 10 * 60 * 1000,
): { timeoutMs: number; signal?: AbortSignal; background?: boolean } {
  return {
    timeoutMs,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.background ? { background: true } : {}),
  };
}

// xorriso pathspecs split at the first unescaped `=`; escape both sides.
const escapeGraft = (s: string): string => s.replaceAll("\\", "\\\\").replaceAll("=", "\\=");
const pathspecs = (grafts: readonly Graft[]): string[] =>
  grafts.map((g) => `${escapeGraft(g.iso)}=${escapeGraft(g.source)}`);

/**
 * What an ISO needs that nothing of the build's initramfs or UKI goes into: the work directory,
 * GRUB's boot images and module lists, grub.cfg, loader.conf and the random seed. A build starts
 * it with the initramfs, so these are ready when the UKI is.
 */
export interface IsoGroundworkOptions {
  generator: IsoGenerator;
  /** Scratch directory (created; contents replaced). */
  workDir: string;
  arch: IsoArch;
  quirks: Quirks;
  sourceDateEpoch: number;
  /** The kernel command line GRUB boots with (grub and hybrid). */
  cmdline?: string;
  /** The release's GRUB module directories (grub and hybrid). */
  grubModules?: GrubModuleDirs | Promise<GrubModuleDirs>;
  /** Default `off`. */
  secureBootEnroll?: SecureBootEnroll;
  /** Run its tools at a lower CPU priority: it is made beside the build's longest path. */
  background?: boolean;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

/** The groundwork being made: each part settles on its own; `settled` once all have stopped. */
export interface IsoGroundwork {
  readonly generator: IsoGenerator;
  readonly workDir: string;
  /** GRUB's BIOS El Torito image, modules and MBR (amd64 GRUB and hybrid ISOs). */
  readonly bios: Promise<GrubParts> | undefined;
  /** GRUB's EFI El Torito image and modules (GRUB ISOs). */
  readonly grubEfi: Promise<GrubParts> | undefined;
  readonly grubCfg: Promise<string> | undefined;
  readonly loader: Promise<{ conf: string; seed: string }> | undefined;
  /** Never rejects: resolves once nothing started here writes into the work directory. */
  readonly settled: Promise<void>;
}

/** Starts the groundwork of an ISO (see `IsoGroundworkOptions`). */
export function startIsoGroundwork(g: IsoGroundworkOptions): IsoGroundwork {
  const ready = rm(g.workDir, { recursive: true, force: true }).then(() =>
    mkdir(g.workDir, { recursive: true }),
  );
  const after = <T>(f: () => Promise<T>): Promise<T> => ready.then(f);
  const grub = g.generator === "grub" || g.generator === "hybrid";
  const dirs = grub ? Promise.resolve(g.grubModules ?? {}) : undefined;
  const bios =
    dirs !== undefined && (g.generator === "hybrid" || g.arch === "amd64")
      ? after(async () =>
          grubBiosPart(g, await requireDir((await dirs).i386pc, "GRUB i386-pc module directory")),
        )
      : undefined;
  const grubEfi =
    dirs !== undefined && g.generator === "grub" ? after(async () => grubEfiPart(g, await dirs)) : undefined;
  const grubCfg = grub
    ? after(async () => {
        const cfg = join(g.workDir, "grub.cfg");
        await writeFile(cfg, isoGrubConfig(g.cmdline ?? "", g.quirks.supportsResetGrubOption));
        return cfg;
      })
    : undefined;
  const loader =
    g.generator === "uefi" || g.generator === "hybrid"
      ? after(async () => {
          const conf = join(g.workDir, "loader.conf");
          // systemd-boot ≥ 261 would try to write a seed to read-only media without one.
          const seed = join(g.workDir, "random-seed");
          await allSettledInOrder([
            writeFile(
              conf,
              `# systemd-boot configuration\n\ntimeout 10\n\nsecure-boot-enroll ${g.secureBootEnroll ?? "off"}\n`,
            ),
            writeFile(seed, Buffer.alloc(32), { mode: 0o444 }),
          ]);
          return { conf, seed };
        })
      : undefined;
  const parts = [ready, bios, grubEfi, grubCfg, loader].filter((p) => p !== undefined);
  for (const p of parts) p.catch(() => undefined);
  return {
    generator: g.generator,
    workDir: g.workDir,
    bios,
    grubEfi,
    grubCfg,
    loader,
    settled: Promise.allSettled(parts).then(() => undefined),
  };
}

/**
 * Builds an ISO on the options' groundwork (or one started now), which has settled when this
 * returns: nothing started for it still writes into the work directory.
 */
function onGroundwork(
  what: string,
  o: IsoCommon & Partial<IsoGroundworkOptions>,
  generator: IsoGenerator,
  build: (g: IsoGroundwork) => Promise<void>,
): Promise<string> {
  return guard(what, async () => {
    const g = o.groundwork ?? startIsoGroundwork({ ...o, generator });
    try {
      if (g.generator !== generator || g.workDir !== o.workDir)
        throw invalidInput(`ISO groundwork made for a ${g.generator} ISO in ${g.workDir}`);
      await build(g);
    } finally {
      await g.settled;
    }
    return o.output;
  });
}

/** Awaits a groundwork part that the generator made; a missing one is a programming error. */
async function part<T>(p: Promise<T> | undefined, what: string): Promise<T> {
  if (p === undefined) throw invalidInput(`ISO groundwork has no ${what}`);
  return p;
}

async function requireFile(path: string, what: string): Promise<number> {
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || !st.isFile()) throw invalidInput(`${what} ${path} does not exist or is not a file`);
  return st.size;
}

async function requireDir(path: string | undefined, what: string): Promise<string> {
  const st = path === undefined ? undefined : await stat(path).catch(() => undefined);
  if (path === undefined || st === undefined || !st.isDirectory()) {
    throw invalidInput(`${what} ${path ?? "(not given)"} is not a directory`);
  }
  return path;
}

/** Files of a GRUB module dir that belong on the ISO (what grub-mkrescue copies: modules, lists, efiemu). */
async function moduleGrafts(dir: string, platform: string): Promise<Graft[]> {
  const names = (await readdir(dir)).filter(
    (n) => n.endsWith(".mod") || n.endsWith(".lst") || n.endsWith(".o") || n === "modinfo.sh",
  );
  return names.sort().map((n) => ({ iso: `/boot/grub/${platform}/${n}`, source: join(dir, n) }));
}

/** `insmod` lines for every partition map, the config grub-mkrescue embeds in its core images. */
async function partmapConfig(dir: string, out: string): Promise<string> {
  const list = await readFileText(join(dir, "partmap.lst"));
  const lines = list
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((m) => `insmod ${m}\n`);
  await writeFile(out, lines.join(""));
  return out;
}

async function readFileText(path: string): Promise<string> {
  return readFile(path, "utf8").catch(() => "");
}

interface GrubParts {
  grafts: Graft[];
  /** mkisofs options for the GRUB boot records. */
  args: string[];
}

/** The kernel, initramfs and grub.cfg with GRUB's BIOS and (GRUB ISOs) EFI El Torito images. */
async function grubParts(o: GrubIsoOptions, g: IsoGroundwork): Promise<GrubParts> {
  // The groundwork's parts first, in a fixed order: its failure is the one a sequential build
  // would have met first.
  const [b, e, cfg] = await allSettledInOrder([
    g.bios ?? Promise.resolve(undefined),
    g.grubEfi ?? Promise.resolve(undefined),
    part(g.grubCfg, "grub.cfg"),
  ]);
  await allSettledInOrder([requireFile(o.kernel, "kernel"), requireFile(o.initramfs, "initramfs")]);
  const grafts: Graft[] = [
    { iso: "/boot/vmlinuz", source: o.kernel },
    { iso: "/boot/initramfs.xz", source: o.initramfs },
    { iso: "/boot/grub/grub.cfg", source: cfg },
  ];
  const args: string[] = [];
  for (const p of [b, e]) {
    if (p === undefined) continue;
    grafts.push(...p.grafts);
    args.push(...p.args);
  }
  args.push("--protective-msdos-label");
  return { grafts, args };
}

async function grubBiosPart(o: IsoGroundworkOptions, dir: string): Promise<GrubParts> {
  const img = join(o.workDir, "eltorito.img");
  o.log?.("creating GRUB BIOS boot image");
  await run(
    "grub-mkimage",
    [
      "--directory",
      dir,
      "--prefix",
      "/boot/grub",
      "--output",
      img,
      "--format",
      "i386-pc-eltorito",
      "--config",
      await partmapConfig(dir, join(o.workDir, "load-pc.cfg")),
      "biosdisk",
      "iso9660",
    ],
    opts(o),
  );
  const grafts = [
    ...(await moduleGrafts(dir, "i386-pc")),
    { iso: "/boot/grub/i386-pc/eltorito.img", source: img },
  ];
  await requireFile(join(dir, "boot_hybrid.img"), "GRUB hybrid MBR");
  const args = [
    "-b",
    "boot/grub/i386-pc/eltorito.img",
    "-no-emul-boot",
    "-boot-load-size",
    "4",
    "-boot-info-table",
    "--grub2-boot-info",
    "--grub2-mbr",
    join(dir, "boot_hybrid.img"),
  ];
  return { grafts, args };
}

async function grubEfiPart(o: IsoGroundworkOptions, dirs: GrubModuleDirs): Promise<GrubParts> {
  const platform = GRUB_EFI_FORMAT[o.arch];
  const dir = await requireDir(dirs.efi, `GRUB ${platform} module directory`);
  const core = join(o.workDir, EFI_BOOT_NAME[o.arch].toLowerCase());
  o.log?.("creating GRUB EFI boot image");
  await run(
    "grub-mkimage",
    [
      "--directory",
      dir,
      // "()" is the device GRUB was loaded from: the optical disc when booted through El Torito.
      "--prefix",
      "()/boot/grub",
      "--output",
      core,
      "--format",
      platform,
      "--config",
      await partmapConfig(dir, join(o.workDir, "load-efi.cfg")),
      "part_gpt",
      "part_msdos",
      "fat",
      "part_apple",
      "iso9660",
    ],
    opts(o),
  );
  const efiImg = join(o.workDir, "efi.img");
  await makeGrubEfiImage(
    efiImg,
    [{ path: `efi/boot/${EFI_BOOT_NAME[o.arch].toLowerCase()}`, source: core }],
    o.sourceDateEpoch,
    o.signal,
  );
  return {
    grafts: [...(await moduleGrafts(dir, platform)), { iso: "/efi.img", source: efiImg }],
    args: ["--efi-boot", "efi.img", "-efi-boot-part", "--efi-boot-image"],
  };
}

/**
 * Waits for every promise (none may still be writing into the work directory when the caller
 * cleans up), then rejects with the first failure in argument order, or resolves with all values.
 */
async function allSettledInOrder<T extends readonly unknown[]>(ps: {
  [K in keyof T]: Promise<T[K]>;
}): Promise<T> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

interface UefiParts {
  grafts: Graft[];
  efiBootImage: string;
  /** Makes `efiBootImage`, then runs `after` (the ISO's xorriso) in the same shell. */
  make(after: AfterImage): Promise<void>;
}

/** The systemd-boot tree (EFI/, loader/) and `efiboot.img` holding the same files. */
async function uefiParts(o: UefiIsoOptions, g: IsoGroundwork): Promise<UefiParts> {
  const [{ conf: loaderConf, seed }, sdSize, ukiSize] = await allSettledInOrder([
    part(g.loader, "loader.conf"),
    requireFile(o.sdBoot, "systemd-boot"),
    o.ukiWritten !== undefined ? Promise.resolve(o.ukiWritten.size) : requireFile(o.uki, "UKI"),
  ]);

  const files: FatFile[] = [
    { path: `EFI/BOOT/${EFI_BOOT_NAME[o.arch]}`, source: o.sdBoot },
    { path: `EFI/Linux/Talos-${o.version}.efi`, source: o.uki },
  ];
  if (o.signingCertDer !== undefined) {
    await requireFile(o.signingCertDer, "signing certificate");
    files.push({ path: "EFI/keys/uki-signing-cert.der", source: o.signingCertDer });
  }
  if (o.enrollmentKeys !== undefined) {
    const k = o.enrollmentKeys;
    for (const [name, src] of [
      ["PK.auth", k.pk],
      ["KEK.auth", k.kek],
      ["db.auth", k.db],
    ] as const) {
      await requireFile(src, name);
      files.push({ path: `loader/keys/auto/${name}`, source: src });
    }
  }
  files.push(
    { path: "loader/loader.conf", source: loaderConf },
    { path: "loader/random-seed", source: seed },
  );

  const img = join(o.workDir, "efiboot.img");
  return {
    grafts: files.map((f) => ({ iso: `/${f.path}`, source: f.source })),
    efiBootImage: img,
    make: (after) => {
      o.log?.("creating EFI boot image");
      return makeEfiBootImage(
        img,
        efiBootImageSize([sdSize, ukiSize]),
        files,
        ["loader/random-seed"],
        o.sourceDateEpoch,
        o.signal,
        o.ukiWritten ? { source: o.uki, ready: o.ukiWritten.ready } : undefined,
        after,
      );
    },
  };
}

const UEFI_PARTITION_ARGS = (img: string): string[] => [
  "-e",
  "--interval:appended_partition_2:all::",
  "-append_partition",
  "2",
  "0xef",
  img,
];
const UEFI_LAYOUT_ARGS = [
  "-partition_cyl_align",
  "all",
  "-partition_offset",
  "16",
  "-iso_mbr_part_type",
  "0x83",
];

/**
 * The ISO's xorriso run: the output cleared and the image cache checked first, then its step (to
 * run after the EFI image, in the same shell, or alone through `runXorriso`).
 */
async function xorrisoAfter(o: IsoCommon, args: string[], grafts: Graft[]): Promise<AfterImage> {
  const all = [...grafts];
  // xorriso writes a new file: whatever was at the output path goes first (kept until now, so
  // a build that fails earlier leaves it as it was).
  const [cache] = await allSettledInOrder([
    o.imageCacheDir === undefined ? Promise.resolve(undefined) : requireDir(o.imageCacheDir, "image cache"),
    rm(o.output, { force: true }),
  ]);
  if (cache !== undefined) all.push({ iso: "/imagecache", source: cache });
  const step: SequenceStep = {
    tool: "xorriso",
    args: [
      "-as",
      "mkisofs",
      "-graft-points",
      ...args,
      // Rock Ridge with ownership 0 and normalised permissions: no trace of the build user.
      "-r",
      "-iso-level",
      "3",
      "-o",
      o.output,
      ...pathspecs(all),
      "--",
      ...xorrisoTailCommands(o.sourceDateEpoch, o.version, o.quirks),
      // GPT disk and partition GUIDs from the (fixed) volume date instead of random ones.
      "-boot_image",
      "any",
      "gpt_disk_guid=modification-date",
    ],
    env: { GRUB_FAT_SERIAL_NUMBER: fatSerial(o.sourceDateEpoch) },
  };
  return {
    steps: [step],
    timeoutMs: 30 * 60 * 1000,
    // Once the shell that runs it is up: work started meanwhile would slow its start.
    onStart: () => {
      o.log?.("creating ISO image");
      o.onFinalTool?.();
    },
  };
}

/** xorriso alone (GRUB ISOs: no EFI image is made last). */
async function runXorriso(o: IsoCommon, args: string[], grafts: Graft[]): Promise<void> {
  const after = await xorrisoAfter(o, args, grafts);
  const step = after.steps[0]!;
  await run(step.tool, step.args, {
    ...opts(o, after.timeoutMs),
    ...(step.env ? { env: { ...step.env } } : {}),
    ...(after.onStart ? { onStart: after.onStart } : {}),
  });
}

async function guard<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof BootforgeError) throw e;
    throw ioError(`${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** GRUB ISO (upstream `CreateGRUB`): BIOS (amd64) and UEFI through GRUB. */
export function createGrubIso(o: GrubIsoOptions): Promise<string> {
  return onGroundwork("GRUB ISO", o, "grub", async (ground) => {
    const g = await grubParts(o, ground);
    await runXorriso(o, [...g.args, "--sort-weight", "0", "/", "--sort-weight", "1", "/boot"], g.grafts);
  });
}

/** UEFI-only ISO (upstream `CreateUEFI`): systemd-boot + UKI, optional SecureBoot enrollment files. */
export function createUefiIso(o: UefiIsoOptions): Promise<string> {
  return onGroundwork("UEFI ISO", o, "uefi", async (ground) => {
    const u = await uefiParts(o, ground);
    const xorriso = await xorrisoAfter(
      o,
      [...UEFI_PARTITION_ARGS(u.efiBootImage), ...UEFI_LAYOUT_ARGS, "-no-emul-boot"],
      u.grafts,
    );
    await u.make(xorriso);
  });
}

/** Hybrid ISO (upstream `CreateHybrid`): BIOS through GRUB i386-pc, UEFI through systemd-boot (also on arm64). */
export function createHybridIso(o: HybridIsoOptions): Promise<string> {
  return onGroundwork("hybrid ISO", o, "hybrid", (ground) => hybrid(o, ground));
}

async function hybrid(o: HybridIsoOptions, ground: IsoGroundwork): Promise<void> {
  // GRUB's BIOS image and the EFI FAT image are independent: built side by side.
  const [g, u] = await allSettledInOrder([grubParts(o, ground), uefiParts(o, ground)]);
  const xorriso = await xorrisoAfter(
    o,
    [
      ...g.args,
      "--sort-weight",
      "0",
      "/",
      "--sort-weight",
      "1",
      "/boot",
      "-eltorito-alt-boot",
      ...UEFI_PARTITION_ARGS(u.efiBootImage),
      "-appended_part_as_gpt",
      ...UEFI_LAYOUT_ARGS,
      "-no-emul-boot",
    ],
    [...g.grafts, ...u.grafts],
  );
  await u.make(xorriso);
}

/** Which generator upstream runs (§6.1). */
export type IsoGenerator = "grub" | "uefi" | "hybrid";

/** Upstream's choice: SecureBoot → UEFI; ≥ 1.12 by bootloader; 1.10–1.11 hybrid (arm64 too); older GRUB. */
export function selectIsoGenerator(
  quirks: Quirks,
  secureBoot: boolean,
  bootloader?: "dual-boot" | "sd-boot" | "grub" | "none",
): IsoGenerator {
  if (secureBoot) return "uefi";
  if (quirks.supportsISOBootloaderChoice) {
    switch (bootloader ?? "dual-boot") {
      case "dual-boot":
        return "hybrid";
      case "sd-boot":
        return "uefi";
      case "grub":
        return "grub";
      default:
        throw unsupported(`ISO bootloader ${JSON.stringify(bootloader)} is not supported`);
    }
  }
  return quirks.useSDBootForUEFI ? "hybrid" : "grub";
}

/**
 * Boots an artifact under QEMU (TCG only, no network, no display) and returns the fixture
 * OS's facts. Kernel+initramfs (what PXE delivers), ISO, raw disk or UKI; SeaBIOS, OVMF,
 * OVMF with Secure Boot, or AAVMF on arm64. Every boot has a hard timeout, and a failed boot
 * throws with the serial log attached.
 */
import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { BootforgeError } from "../../src/errors/index.js";
import type { BootFacts } from "./facts.js";
import { FACT_PREFIX, parseFacts } from "./facts.js";
import type { FirmwareMode, GuestArch } from "./firmware.js";
import { firmwareFiles } from "./firmware.js";

/** Disk image formats QEMU opens itself. */
export type DiskFormat = "raw" | "qcow2" | "vpc" | "vmdk";

/** What to boot: exactly one of kernel, iso, disk, uki. */
export type BootMedia =
  | { kind: "kernel"; vmlinuz: string; initramfs: string; cmdline: string }
  | { kind: "iso"; path: string }
  /**
   * A disk on virtio-blk, opened by QEMU's driver for its format (`vpc`: VHD, `vmdk`: the disk
   * of an OVA); `sectorSize` 4096 presents it as a 4Kn drive (logical and physical), as the
   * 4K-sector images are meant for.
   */
  | { kind: "disk"; path: string; format?: DiskFormat; sectorSize?: 512 | 4096 }
  /** A UKI placed as the removable-media boot loader on a generated FAT drive (UEFI only). */
  | { kind: "uki"; path: string };

/** Options for {@link boot}. */
export interface BootOptions {
  arch: GuestArch;
  firmware: FirmwareMode;
  media: BootMedia;
  /** Hard limit for the whole boot (default 120 s; TCG is slow). */
  timeoutMs?: number;
  memoryMiB?: number;
  /** Fail unless the init printed `ok` (default true). */
  expectOk?: boolean;
  extraArgs?: string[];
  /**
   * A firmware image QEMU starts instead of SeaBIOS or UEFI (`-bios`), with `firmware: "bios"`:
   * e.g. the U-Boot an SBC overlay wrote into a disk image, read back out of it.
   */
  bios?: string;
  /**
   * Stop QEMU as soon as the serial log matches (e.g. a firmware refusal), instead of waiting
   * for the timeout; such a boot usually also sets `expectOk: false`.
   */
  stopOn?: RegExp;
}

/** A finished boot. */
export interface BootResult {
  facts: BootFacts;
  /** Everything the serial console printed. */
  log: string;
  durationMs: number;
  /** The QEMU command line, for reproducing a failure by hand. */
  argv: string[];
}

/** A failed boot; the serial log is in the message tail and in `log`. */
export class BootFailure extends BootforgeError {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super("internal", `${message}\n--- serial log (last 4000 chars) ---\n${log.slice(-4000)}`);
  }
}

// Boots share the machine's cores with everything else: at most one QEMU per core.
const slots = { free: availableParallelism(), waiting: [] as (() => void)[] };
async function acquire(): Promise<void> {
  if (slots.free > 0) {
    slots.free--;
    return;
  }
  await new Promise<void>((r) => slots.waiting.push(r));
}
function release(): void {
  const next = slots.waiting.shift();
  if (next) next();
  else slots.free++;
}

/** Builds the QEMU argv for a boot (exported for tests and debugging). */
export async function qemuArgv(opts: BootOptions, scratch: string): Promise<string[]> {
  const fw = firmwareFiles(opts.arch, opts.firmware);
  const amd = opts.arch === "amd64";
  const argv: string[] = [amd ? "qemu-system-x86_64" : "qemu-system-aarch64"];
  argv.push("-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", String(opts.memoryMiB ?? (amd ? 512 : 768)));
  argv.push("-M", amd ? (fw.smm ? "q35,smm=on" : "q35") : "virt");
  argv.push("-nic", "none", "-display", "none", "-monitor", "none", "-serial", "stdio", "-no-reboot");
  if (fw.smm) argv.push("-global", "driver=cfi.pflash01,property=secure,value=on");
  if (fw.code !== undefined && fw.vars !== undefined) {
    // The variable store is written by the firmware: each boot gets its own copy.
    const vars = join(scratch, "vars.fd");
    await copyFile(fw.vars, vars);
    argv.push("-drive", `if=pflash,format=raw,unit=0,readonly=on,file=${fw.code}`);
    argv.push("-drive", `if=pflash,format=raw,unit=1,file=${vars}`);
  }
  const m = opts.media;
  if (opts.bios !== undefined) {
    if (fw.code !== undefined) throw new BootforgeError("unsupported", "bios replaces the UEFI firmware");
    argv.push("-bios", opts.bios);
  }
  if (!amd && fw.code === undefined && opts.bios === undefined && m.kind !== "kernel") {
    throw new BootforgeError("unsupported", "arm64 without UEFI boots only a kernel+initramfs");
  }
  if (m.kind === "kernel") {
    argv.push("-kernel", m.vmlinuz, "-initrd", m.initramfs, "-append", m.cmdline);
  } else if (m.kind === "iso") {
    argv.push("-drive", `if=none,id=cd0,media=cdrom,readonly=on,file=${m.path}`);
    if (amd) argv.push("-device", "ide-cd,drive=cd0,bus=ide.0,bootindex=0");
    else
      argv.push(
        "-device",
        "virtio-scsi-pci,id=scsi0",
        "-device",
        "scsi-cd,drive=cd0,bus=scsi0.0,bootindex=0",
      );
  } else if (m.kind === "disk") {
    // snapshot=on: the guest writes (META, state) never reach the artifact under test.
    argv.push("-drive", `if=none,id=hd0,format=${m.format ?? "raw"},snapshot=on,file=${m.path}`);
    const blocks =
      m.sectorSize === undefined
        ? ""
        : `,logical_block_size=${m.sectorSize},physical_block_size=${m.sectorSize}`;
    argv.push("-device", `virtio-blk-pci,drive=hd0,bootindex=0${blocks}`);
  } else {
    if (fw.code === undefined) throw new BootforgeError("unsupported", "a UKI boots only under UEFI");
    const esp = join(scratch, "esp", "EFI", "BOOT");
    await mkdir(esp, { recursive: true });
    await copyFile(m.path, join(esp, amd ? "BOOTX64.EFI" : "BOOTAA64.EFI"));
    argv.push("-drive", `if=none,id=esp,format=raw,readonly=on,file=fat:${join(scratch, "esp")}`);
    argv.push("-device", "virtio-blk-pci,drive=esp,bootindex=0");
  }
  argv.push(...(opts.extraArgs ?? []));
  return argv;
}

/** Boots and returns the parsed facts; throws {@link BootFailure} on timeout, crash or missing `ok`. */
export async function boot(opts: BootOptions): Promise<BootResult> {
  await acquire();
  const scratch = await mkdtemp(join(tmpdir(), "bootforge-qemu-"));
  try {
    const argv = await qemuArgv(opts, scratch);
    const started = Date.now();
    const timeoutMs = opts.timeoutMs ?? 120_000;
    const { log, code, timedOut } = await new Promise<{
      log: string;
      code: number | null;
      timedOut: boolean;
    }>((resolve, reject) => {
      const [cmd = "", ...args] = argv;
      const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      let timedOut = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.setEncoding("utf8");
      child.stderr.setEncoding("utf8");
      const stopIfMatched = () => {
        // search(), not test(): a /g pattern would carry lastIndex from one chunk to the next.
        if (opts.stopOn && log.search(opts.stopOn) >= 0) child.kill("SIGKILL");
      };
      child.stdout.on("data", (s: string) => {
        log += s;
        stopIfMatched();
        // The init powers off after `ok`; should the guest hang in poweroff, stop waiting.
        if (graceTimer === undefined && log.includes(`${FACT_PREFIX}ok`)) {
          graceTimer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        }
      });
      child.stderr.on("data", (s: string) => {
        log += s;
        stopIfMatched();
      });
      child.on("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const pkg = opts.arch === "amd64" ? "qemu-system-x86" : "qemu-system-arm";
        reject(
          e.code === "ENOENT" ? new BootforgeError("dependency", `${cmd} not found: install ${pkg}`) : e,
        );
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        if (graceTimer) clearTimeout(graceTimer);
        resolve({ log, code, timedOut });
      });
    });
    const facts = parseFacts(log);
    const result: BootResult = { facts, log, durationMs: Date.now() - started, argv };
    if (timedOut && !facts.ok)
      throw new BootFailure(`boot timed out after ${timeoutMs} ms: ${argv.join(" ")}`, log);
    if (opts.expectOk !== false && !facts.ok) {
      throw new BootFailure(
        `boot ended (exit ${code}) without the fixture's ok line: ${argv.join(" ")}`,
        log,
      );
    }
    return result;
  } finally {
    await rm(scratch, { recursive: true, force: true });
    release();
  }
}

/**
 * The x86 kernel's boot-time check that the timer interrupt arrives, which panics (and then
 * hangs: `-no-reboot`) when the host starves a TCG guest of CPU time for too long, before any
 * of the artifact's own code past the kernel has run.
 */
const STARVED_TIMER = /Kernel panic - not syncing: IO-APIC \+ timer doesn't work/;

/**
 * {@link boot}, and once more should the guest kernel panic in that timer check (stopped at the
 * panic instead of at the timeout). Any other failure, and a second panic, is thrown as it is.
 */
export async function bootStarvedAgain(opts: BootOptions): Promise<BootResult> {
  const stopOn =
    opts.stopOn === undefined ? STARVED_TIMER : new RegExp(`${opts.stopOn.source}|${STARVED_TIMER.source}`);
  try {
    return await boot({ ...opts, stopOn });
  } catch (e) {
    if (!(e instanceof BootFailure) || e.log.search(STARVED_TIMER) < 0) throw e;
    // Said on stderr so that a run which needed the second boot shows it.
    process.stderr.write(
      `boot: guest kernel starved in its timer check, booting once more: ${e.message.split("\n")[0]}\n`,
    );
    return boot({ ...opts, stopOn });
  }
}

/**
 * Starts external programs from one long-lived `/bin/sh` instead of from Node. Node's
 * `ChildProcess.spawn` forks the whole Node process, synchronously: the cost grows with its
 * resident memory (about 3.5 ms at 100 MiB and 14 ms at 250 MiB on a 2-vCPU machine), and the
 * event loop — every download and API request of the factory — stands still meanwhile. The
 * launcher shell is a few hundred KiB; it forks in a fraction of a millisecond and Node only
 * writes it a line.
 *
 * Each launch is a background job of the launcher: a small watcher subshell that starts the
 * program with its own working directory, environment and stdio files, reports its PID, waits
 * for it and reports its exit status and which of its output files are non-empty on the
 * launcher's stdout (`S <id> <pid>`, `E <id> <status> <stdout?><stderr?>`; one short `echo`
 * each, atomic on a pipe). The program's stdin, stdout and stderr
 * are files or /dev/null, never the launcher's own pipes. What the program sees — path,
 * arguments, environment, working directory — is what `spawn` would have given it, with one
 * difference inherited from POSIX shells: background jobs ignore SIGINT and SIGQUIT. The
 * launcher runs in its own session, so a terminal's Ctrl-C does not reach the programs either;
 * callers stop them with `kill()` (SIGKILL).
 *
 * When Node dies without a chance to clean up (SIGKILL, OOM), the launcher reads end-of-file and
 * exits, and its exit trap stops every program still running (process groups included): a killed
 * factory leaves no tool writing into its scratch space.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from "node:fs";
import { constants, tmpdir } from "node:os";
import { join } from "node:path";

/** One program to start. */
export interface LaunchSpec {
  /** Absolute path of the program. */
  path: string;
  args: readonly string[];
  cwd?: string;
  /** The program's complete environment. */
  env: NodeJS.ProcessEnv;
  /** Files for stdin and stdout (default /dev/null) and stderr (required: failures quote it). */
  stdinFile?: string;
  stdoutFile?: string;
  stderrFile: string;
  /** Start the program in a new process group (`setsid`), so `kill` reaches its children too. */
  newGroup?: boolean;
}

/** How a launched program ended: an exit code, or the signal that killed it. */
export interface LaunchExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How a launched program ended, and whether its stdout and stderr files got any bytes. */
export interface LaunchEnd extends LaunchExit {
  /** Whether the stdout file is non-empty (callers skip reading empty files). */
  wroteStdout: boolean;
  wroteStderr: boolean;
}

/** A started program. */
export interface Launched {
  /** Settles when the program has exited and been reaped; rejects if the launcher died. */
  readonly exit: Promise<LaunchEnd>;
  /** Resolves once the program has been started (its PID reported); never rejects. */
  readonly started: Promise<void>;
  /** SIGKILLs the program (its process group with `newGroup`), now or as soon as it has a PID. */
  kill(): void;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The launcher's first line. It reads its commands from Node's pipe; when Node is gone (killed,
 * even by SIGKILL) the pipe ends, the shell exits and this trap runs: every watcher gets HUP and
 * SIGKILLs its program (or the program's process group, which `kill 0` would not reach), the
 * launcher waits for them, then SIGKILLs whatever is left of its own process group. The launcher
 * itself ignores that HUP (set only now: programs started earlier keep their own dispositions).
 */
const ORPHAN_GUARD = `trap 'trap "" HUP; kill -HUP 0 2>/dev/null; wait; kill -9 0' EXIT\n`;
const SETSID = "/usr/bin/setsid";

/** Single-quotes `s` for the shell. */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

interface Job {
  pid: number | undefined;
  /** The watcher subshell's PID (`W` line), to reap it once it has reported. */
  watcher: number | undefined;
  /** Whether the `E` line came (the job's promise is settled). */
  exited: boolean;
  killWanted: boolean;
  newGroup: boolean;
  onStart: () => void;
  resolve: (e: LaunchEnd) => void;
  reject: (e: Error) => void;
}

/** Signal names by number, to read a shell's `128 + n` status. */
const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]),
);

/** The shell exit status of a job as `spawn` would report it. */
export function exitOfStatus(status: number): LaunchExit {
  const signal = status > 128 ? SIGNAL_NAMES.get(status - 128) : undefined;
  return signal === undefined ? { code: status, signal: null } : { code: null, signal };
}

class LauncherShell {
  readonly #child: ChildProcess;
  /** The environment the shell started with (what its jobs inherit unless told otherwise). */
  readonly #env: NodeJS.ProcessEnv;
  /** Whether every name in that environment survives a POSIX shell (else `env -i` per job). */
  readonly #plainEnv: boolean;
  readonly #jobs = new Map<number, Job>();
  #next = 1;
  #partial = "";
  #dead: Error | undefined;
  /** Directory for the callers' stdio files, removed when the process exits. */
  readonly dir: string;

  constructor() {
    this.#env = { ...process.env };
    this.#plainEnv = Object.keys(this.#env).every((k) => IDENT.test(k));
    this.dir = mkdtempSync(join(tmpdir(), "bootforge-tools-"));
    // Its own session: terminal signals go to Node, which decides what to stop.
    this.#child = spawn("/bin/sh", ["-s"], {
      env: this.#env,
      stdio: ["pipe", "pipe", "ignore"],
      detached: true,
    });
    const out = this.#child.stdout!;
    out.setEncoding("latin1");
    out.on("data", (chunk: string) => this.#read(chunk));
    this.#child.stdin!.on("error", (e: Error) => this.#die(e));
    this.#child.once("error", (e) => this.#die(e));
    this.#child.once("exit", () => this.#die(new Error("the tool launcher shell exited")));
    this.#child.stdin!.write(ORPHAN_GUARD);
    this.#idle();
  }

  /** The shell's PID (tests kill it to check that callers are told). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  get dead(): boolean {
    return this.#dead !== undefined;
  }

  launch(spec: LaunchSpec): Launched {
    const id = this.#next++;
    let resolve!: (e: LaunchEnd) => void;
    let reject!: (e: Error) => void;
    const exit = new Promise<LaunchEnd>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    let onStart!: () => void;
    const started = new Promise<void>((res) => (onStart = res));
    // A launch that never started (the launcher died) counts as started once it has ended.
    exit.then(onStart, onStart);
    const job: Job = {
      pid: undefined,
      watcher: undefined,
      exited: false,
      killWanted: false,
      newGroup: spec.newGroup === true,
      onStart,
      resolve,
      reject,
    };
    if (this.#dead !== undefined) {
      reject(this.#dead);
    } else {
      this.#jobs.set(id, job);
      this.#busy();
      this.#child.stdin!.write(this.#script(id, spec));
    }
    return {
      exit,
      started,
      kill: () => {
        job.killWanted = true;
        signalJob(job);
      },
    };
  }

  /** Stops every running program (process exit: nothing keeps writing after Node is gone). */
  killAll(): void {
    for (const job of this.#jobs.values()) {
      job.killWanted = true;
      signalJob(job);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** The watcher subshell for one job. */
  #script(id: number, spec: LaunchSpec): string {
    const q = shellQuote;
    const parts: string[] = [`exec 2>${q(spec.stderrFile)}`];
    // The launcher's exit trap sends HUP (see ORPHAN_GUARD): the program goes with the watcher.
    const target = spec.newGroup ? `-"$p"` : `"$p"`;
    parts.push(`p=`, `trap '[ -n "$p" ] && kill -9 ${target} 2>/dev/null; exit 129' HUP`);
    if (spec.cwd !== undefined) parts.push(`cd ${q(spec.cwd)} || { echo "E ${id} 126 01"; exit; }`);
    let command = [spec.path, ...spec.args].map(q).join(" ");
    const names = Object.keys(spec.env);
    if (this.#plainEnv && names.every((k) => IDENT.test(k))) {
      // The shell keeps PWD and OLDPWD up to date (at start and on `cd`): the program gets the
      // values it was given, as from spawn, so those two are always set explicitly.
      const inherited = (k: string): string | undefined =>
        k === "PWD" || k === "OLDPWD" ? undefined : this.#env[k];
      const removed = [...new Set([...Object.keys(this.#env), "PWD", "OLDPWD"])].filter(
        (k) => spec.env[k] === undefined,
      );
      if (removed.length > 0) parts.push(`unset ${removed.join(" ")}`);
      const changed = names.filter((k) => spec.env[k] !== undefined && spec.env[k] !== inherited(k));
      if (changed.length > 0) parts.push(`export ${changed.map((k) => `${k}=${q(spec.env[k]!)}`).join(" ")}`);
    } else {
      const assignments = names
        .filter((k) => spec.env[k] !== undefined)
        .map((k) => q(`${k}=${spec.env[k]!}`));
      command = `/usr/bin/env -i ${assignments.join(" ")} ${command}`;
    }
    if (spec.newGroup) command = `${SETSID} -w ${command}`;
    const stdout = q(spec.stdoutFile ?? "/dev/null");
    // `[` is a builtin: telling the caller which outputs are empty costs no process, and saves
    // it opening and reading files that have nothing in them.
    parts.push(
      `${command} <${q(spec.stdinFile ?? "/dev/null")} >${stdout} &`,
      `p=$!`,
      `echo "S ${id} $p"`,
      `wait $p`,
      `s=$? o=0 e=0`,
      `[ -s ${stdout} ] && o=1`,
      `[ -s ${q(spec.stderrFile)} ] && e=1`,
      `echo "E ${id} $s $o$e"`,
    );
    return `(\n${parts.join("\n")}\n) &\necho "W ${id} $!"\n`;
  }

  #read(chunk: string): void {
    const lines = (this.#partial + chunk).split("\n");
    this.#partial = lines.pop()!;
    for (const line of lines) {
      const m = /^([SEW]) (\d+) (\d+)(?: ([01])([01]))?$/.exec(line);
      if (m === null) continue;
      const id = Number(m[2]);
      const job = this.#jobs.get(id);
      if (job === undefined) continue;
      const n = Number(m[3]);
      if (m[1] === "S") {
        job.pid = n;
        if (job.killWanted) signalJob(job);
        job.onStart();
        continue;
      }
      if (m[1] === "W") job.watcher = n;
      else {
        job.exited = true;
        job.resolve({ ...exitOfStatus(n), wroteStdout: m[4] === "1", wroteStderr: m[5] === "1" });
      }
      if (job.exited && job.watcher !== undefined) this.#reap(id, job.watcher);
    }
  }

  /**
   * A non-interactive shell never collects its finished background jobs: without an explicit
   * `wait` each watcher would stay a zombie, and a long-running factory would run out of PIDs.
   * The watcher has reported and is exiting, so the wait is immediate.
   */
  #reap(id: number, watcher: number): void {
    this.#jobs.delete(id);
    this.#child.stdin!.write(`wait ${watcher}\n`);
    if (this.#jobs.size === 0) this.#idle();
  }

  #die(e: Error): void {
    if (this.#dead !== undefined) return;
    this.#dead = e;
    for (const job of this.#jobs.values()) {
      job.killWanted = true;
      signalJob(job);
      job.reject(e);
    }
    this.#jobs.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }

  // While jobs run, the launcher's pipe keeps the event loop alive (the callers wait on it);
  // otherwise it must not keep the process from exiting.
  #busy(): void {
    this.#child.ref();
    refOf(this.#child.stdout)?.ref();
  }

  #idle(): void {
    this.#child.unref();
    refOf(this.#child.stdout)?.unref();
    refOf(this.#child.stdin)?.unref();
  }
}

function refOf(stream: unknown): { ref(): void; unref(): void } | undefined {
  const s = stream as { ref?: () => void; unref?: () => void } | null;
  return typeof s?.ref === "function" && typeof s.unref === "function"
    ? (s as { ref(): void; unref(): void })
    : undefined;
}

function signalJob(job: Job): void {
  // Once reported, the program has been reaped and its PID may already belong to another.
  if (!job.killWanted || job.pid === undefined || job.exited) return;
  try {
    process.kill(job.newGroup ? -job.pid : job.pid, "SIGKILL");
  } catch {
    // already gone
  }
}

let shell: LauncherShell | undefined;
let exitHook = false;

/** Why the launcher cannot be used in this process (no shell, no setsid, no temp dir), once seen. */
let unavailable: string | undefined;

function executable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether programs go through the launcher: on unless `BOOTFORGE_TOOL_LAUNCHER=0`, on Linux,
 * where `/bin/sh` and `setsid` exist and the launcher could be started (its stdio directory is
 * made in the temp dir); otherwise callers spawn directly, as before the launcher existed.
 */
export function launcherEnabled(): boolean {
  if (process.env.BOOTFORGE_TOOL_LAUNCHER === "0" || process.platform !== "linux") return false;
  if (unavailable !== undefined) return false;
  if (shell !== undefined && !shell.dead) return true;
  if (!executable("/bin/sh") || !executable(SETSID)) {
    unavailable = `no /bin/sh or ${SETSID}`;
    return false;
  }
  try {
    launcher();
    return true;
  } catch (e) {
    unavailable = (e as Error).message;
    return false;
  }
}

/** The process's launcher shell (started on first use, restarted if it died). */
export function launcher(): { launch(spec: LaunchSpec): Launched; dir: string; pid: number | undefined } {
  if (shell === undefined || shell.dead) {
    shell = new LauncherShell();
    if (!exitHook) {
      exitHook = true;
      process.once("exit", () => shell?.killAll());
    }
  }
  return shell;
}

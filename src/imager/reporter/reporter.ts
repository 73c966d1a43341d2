/**
 * The imager's console output (upstream `pkg/reporter`): stage updates with a status. Plain mode
 * (not a TTY) prints each update trimmed, tabs as 4 spaces, skipping a repeat of the previous line;
 * TTY mode redraws the running line in place with a spinner and colours. Always passed in, never global.
 */
import type { Writable } from "node:stream";

/** Status of an update: decides the colour (and, in TTY mode, whether the line is redrawn). */
export type ReportStatus = "running" | "succeeded" | "skip" | "error";

/** One console update; `message` may hold detail lines (`"<stage>\n\t<detail>"`). */
export interface ReportUpdate {
  message: string;
  status: ReportStatus;
}

/** Receives progress of a build. */
export interface Reporter {
  report(update: ReportUpdate): void;
}

/**
 * A reporter that holds its updates until `release()`, then passes them on in order and
 * forwards later ones directly: work started early (the ISO beside the UKI) reports where the
 * sequential order puts it. Never released, its updates are dropped.
 */
export class HeldReporter implements Reporter {
  #held: ReportUpdate[] | undefined = [];
  constructor(readonly target: Reporter) {}

  report(update: ReportUpdate): void {
    if (this.#held === undefined) this.target.report(update);
    else this.#held.push({ ...update });
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = undefined;
    for (const u of held) this.target.report(u);
  }
}

/** A reporter that drops everything (library use without a console). */
export const nullReporter: Reporter = { report: () => undefined };

/** A reporter that records updates (tests, the factory's build log). */
export class RecordingReporter implements Reporter {
  readonly updates: ReportUpdate[] = [];
  report(update: ReportUpdate): void {
    this.updates.push({ ...update });
  }
}

const SPINNER = ["◰", "◳", "◲", "◱"];
const COLOURS: Record<ReportStatus, string> = {
  running: "\x1b[33m",
  error: "\x1b[31m",
  succeeded: "\x1b[32m",
  skip: "\x1b[34m",
};
const RESET = "\x1b[0m";

/** Writes updates to a stream (stderr for the imager); `tty` picks live or plain output. */
export class ConsoleReporter implements Reporter {
  readonly #out: Writable;
  readonly #tty: boolean;
  #last = "";
  /** Lines of the previous update still open for redrawing (TTY mode). */
  #open = 0;
  #spin = 0;

  constructor(out: Writable, opts: { tty?: boolean } = {}) {
    this.#out = out;
    this.#tty = opts.tty ?? (out as { isTTY?: boolean }).isTTY === true;
  }

  report(update: ReportUpdate): void {
    const line = plainLine(update.message);
    if (!this.#tty) {
      if (line === this.#last) return;
      this.#last = line;
      this.#out.write(`${line}\n`);
      return;
    }
    // Redraw over the previous running/error update; finished lines stay.
    let text = "";
    if (this.#open > 0) text += `\x1b[${this.#open}A\x1b[0J`;
    const live = update.status === "running" || update.status === "error";
    const prefix = live ? `${SPINNER[this.#spin++ % SPINNER.length]} ` : "";
    text += `${COLOURS[update.status]}${prefix}${line}${RESET}\n`;
    this.#open = live ? line.split("\n").length : 0;
    this.#last = line;
    this.#out.write(text);
  }
}

/** The plain-mode text of a message: trimmed, tabs as four spaces. */
export function plainLine(message: string): string {
  return message.trim().replaceAll("\t", "    ");
}

/** Upstream `progressPrintf`: a running update with one detail line under the stage message. */
export function progress(reporter: Reporter, stage: string, detail: string): void {
  reporter.report({ message: `${stage}\n\t${detail}`, status: "running" });
}

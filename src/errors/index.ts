/**
 * Errors are values with a kind. The kind decides the imager exit code (upstream
 * `pkg/installer/exitcode`) and the factory's HTTP status, so every layer can fail
 * precisely without knowing which front door it sits behind.
 */

export type ErrorKind =
  | "invalid-input"
  | "unsupported"
  | "environment"
  | "dependency"
  | "io"
  | "install"
  | "not-found"
  | "conflict"
  | "too-large"
  | "unavailable"
  | "internal";

/** Upstream imager exit codes by kind. */
const EXIT_CODES: Record<ErrorKind, number> = {
  "invalid-input": 2,
  "too-large": 2,
  "not-found": 2,
  conflict: 2,
  unsupported: 3,
  environment: 4,
  dependency: 5,
  unavailable: 5,
  io: 6,
  install: 7,
  internal: 1,
};

/** HTTP status codes by kind (upstream factory answers bad input with 400). */
const HTTP_STATUS: Record<ErrorKind, number> = {
  "invalid-input": 400,
  unsupported: 400,
  "not-found": 404,
  conflict: 409,
  "too-large": 413,
  environment: 500,
  dependency: 502,
  unavailable: 503,
  io: 500,
  install: 500,
  internal: 500,
};

export interface ErrorDetails {
  /** Dotted path of the offending field, e.g. `customization.meta[0].key`. */
  path?: string;
  /** 1-based line in the source document, when known. */
  line?: number;
  /** 1-based column in the source document, when known. */
  column?: number;
  cause?: unknown;
}

/** The one error type thrown by Bootforge code; `kind` is what callers switch on. */
export class BootforgeError extends Error {
  readonly kind: ErrorKind;
  readonly path: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "BootforgeError";
    this.kind = kind;
    this.path = details.path;
    this.line = details.line;
    this.column = details.column;
  }

  /** The imager process exit code for this error. */
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }

  /** The factory HTTP status for this error. */
  get httpStatus(): number {
    return HTTP_STATUS[this.kind];
  }
}

/** True when `e` is a BootforgeError, optionally of the given kind. */
export function isBootforgeError(e: unknown, kind?: ErrorKind): e is BootforgeError {
  return e instanceof BootforgeError && (kind === undefined || e.kind === kind);
}

/** Shorthand constructors, so call sites read as what went wrong. */
export const invalidInput = (message: string, details?: ErrorDetails) =>
  new BootforgeError("invalid-input", message, details);
export const unsupported = (message: string, details?: ErrorDetails) =>
  new BootforgeError("unsupported", message, details);
export const dependencyError = (message: string, details?: ErrorDetails) =>
  new BootforgeError("dependency", message, details);
export const environmentError = (message: string, details?: ErrorDetails) =>
  new BootforgeError("environment", message, details);
export const ioError = (message: string, details?: ErrorDetails) =>
  new BootforgeError("io", message, details);
export const notFound = (message: string, details?: ErrorDetails) =>
  new BootforgeError("not-found", message, details);

/** Exit code for any thrown value: BootforgeErrors map by kind, anything else is 1 (unknown). */
export function exitCodeOf(e: unknown): number {
  return isBootforgeError(e) ? e.exitCode : 1;
}

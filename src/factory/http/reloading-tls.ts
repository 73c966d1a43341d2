/**
 * TLS for the factory's listener from `http.certFile` and `http.keyFile`, reloaded when the files
 * change (certificate rotation by cert-manager, a renewed Let's Encrypt pair) without a restart.
 * The files are checked as each connection arrives, before its handshake: a changed pair is
 * loaded and, if the key matches the certificate, serves that connection and the ones after it.
 * A pair caught half-replaced (key and certificate not matching, a file missing) is not used:
 * the previous one keeps serving and the next connection tries again.
 */
import { readFileSync, statSync } from "node:fs";
import type { Server as HttpsServer } from "node:https";
import { createSecureContext } from "node:tls";
import { invalidInput } from "../../errors/index.js";

/** A certificate and key as read from their files. */
export interface KeyPair {
  cert: Buffer;
  key: Buffer;
}

/** What identifies a version of a file without reading it. */
function stamp(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
}

/** Reads and checks a pair (createSecureContext refuses a key that does not match). */
function loadPair(certFile: string, keyFile: string): KeyPair {
  const pair = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  createSecureContext(pair);
  return pair;
}

/** Watches a certificate and key pair and swaps it into a server when it changes. */
export class ReloadingKeyPair {
  #stamps: string;
  #failed = "";
  /** The pair in use. */
  current: KeyPair;

  constructor(
    readonly certFile: string,
    readonly keyFile: string,
    private readonly warn: (msg: string, fields: Record<string, unknown>) => void,
  ) {
    try {
      this.#stamps = `${stamp(certFile)}|${stamp(keyFile)}`;
      this.current = loadPair(certFile, keyFile);
    } catch (e) {
      throw invalidInput(
        `configuration http.certFile/http.keyFile: cannot load ${certFile} and ${keyFile}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }

  /** Loads the pair again if either file changed; true when the served pair was replaced. */
  refresh(): boolean {
    let stamps: string;
    try {
      stamps = `${stamp(this.certFile)}|${stamp(this.keyFile)}`;
    } catch (e) {
      this.#report(`missing:${(e as Error).message}`, e);
      return false;
    }
    if (stamps === this.#stamps) return false;
    try {
      this.current = loadPair(this.certFile, this.keyFile);
      this.#stamps = stamps;
      this.#failed = "";
      return true;
    } catch (e) {
      this.#report(stamps, e);
      return false;
    }
  }

  /** One warning per failed version of the files, not one per connection. */
  #report(version: string, e: unknown): void {
    if (this.#failed === version) return;
    this.#failed = version;
    this.warn("TLS certificate reload failed; serving the previous certificate", {
      certFile: this.certFile,
      keyFile: this.keyFile,
      error: e instanceof Error ? e.message : String(e),
    });
  }

  /** Checks the files as each connection arrives, before the TLS socket takes its context. */
  attach(server: HttpsServer): void {
    server.prependListener("connection", () => {
      if (this.refresh()) server.setSecureContext(this.current);
    });
  }
}

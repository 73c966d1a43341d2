/**
 * The overlay installer protocol (imager.md §9.2): `<installer> get-options` and
 * `<installer> install`, YAML on stdin, YAML on stdout for get-options, non-zero exit = failure.
 * Runs each call confined (see sandbox.ts) with a timeout; replies are validated strictly.
 */
import { parse } from "yaml";
import { BootforgeError } from "../../errors/index.js";
import type { OverlayOptionValue } from "../../profile/model.js";
import { GoMap, marshal, type YamlValue } from "../../yaml/emit.js";
import { runConfined } from "./sandbox.js";

/** What `get-options` answers (`overlay.Options`). */
export interface OverlayInstallerOptions {
  name: string;
  kernelArgs: string[];
  /** GPT entries start `offset` sectors later (`partitionOptions.offset` → skip LBAs). */
  partitionOffset: number;
}

/** What `install` receives (`overlay.InstallOptions`). */
export interface OverlayInstallRequest {
  installDisk: string;
  mountPrefix: string;
  artifactsPath: string;
  extraOptions?: { [key: string]: OverlayOptionValue };
}

/** Common options of protocol calls. */
export interface OverlayCallOptions {
  /** Scratch directory the installer runs in (writable, its cwd). */
  workDir: string;
  /** Default 5 minutes for install, 1 minute for get-options. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

// Overlay option values as go-yaml encodes a `map[string]any`: maps with sorted keys.
function goValue(v: OverlayOptionValue): YamlValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "bigint") return v;
  if (typeof v === "number") return v;
  if (Array.isArray(v)) return v.map(goValue);
  return new GoMap(Object.entries(v).map(([k, x]) => [k, goValue(x)] as const));
}

/** YAML of the extra options as upstream marshals them (`{}` for none). */
export function encodeExtraOptions(extra: { [key: string]: OverlayOptionValue } | undefined): string {
  return marshal(goValue(extra ?? {}));
}

/** YAML of an install request, fields in upstream order. */
export function encodeInstallRequest(req: OverlayInstallRequest): string {
  return marshal({
    installDisk: req.installDisk,
    mountPrefix: req.mountPrefix,
    artifactsPath: req.artifactsPath,
    extraOptions: goValue(req.extraOptions ?? {}),
  });
}

const bad = (name: string, msg: string) =>
  new BootforgeError("install", `overlay installer ${name}: invalid get-options reply: ${msg}`);

/** Parses and checks a get-options reply (unknown keys and wrong types are errors). */
export function decodeOverlayOptions(text: string, installer = "installer"): OverlayInstallerOptions {
  let doc: unknown;
  try {
    doc = parse(text, { uniqueKeys: true, intAsBigInt: true });
  } catch (e) {
    throw bad(installer, (e as Error).message.split("\n")[0] ?? "not YAML");
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw bad(installer, "expected a YAML mapping");
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!["name", "kernelArgs", "partitionOptions"].includes(k)) throw bad(installer, `unknown field ${k}`);
  }
  const name = o.name ?? "";
  if (typeof name !== "string") throw bad(installer, "name must be a string");
  const args = o.kernelArgs ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === "string")) {
    throw bad(installer, "kernelArgs must be a list of strings");
  }
  let partitionOffset = 0;
  const po = o.partitionOptions;
  if (po !== undefined && po !== null) {
    if (typeof po !== "object" || Array.isArray(po))
      throw bad(installer, "partitionOptions must be a mapping");
    for (const k of Object.keys(po))
      if (k !== "offset") throw bad(installer, `unknown field partitionOptions.${k}`);
    const off = (po as { offset?: unknown }).offset ?? 0n;
    if (typeof off !== "bigint" || off < 0n || off > 1n << 32n) {
      throw bad(installer, "partitionOptions.offset must be a sector count");
    }
    partitionOffset = Number(off);
  }
  return { name, kernelArgs: args, partitionOffset };
}

async function call(
  installer: string,
  command: "get-options" | "install",
  stdin: string,
  o: OverlayCallOptions & { writable?: string[] },
  defaultTimeout: number,
): Promise<Buffer> {
  const timeoutMs = o.timeoutMs ?? defaultTimeout;
  const started = Date.now();
  try {
    return await runConfined(installer, [command], {
      workDir: o.workDir,
      stdin,
      timeoutMs,
      ...(o.writable ? { writable: o.writable } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (e) {
    if (e instanceof BootforgeError && e.kind !== "install") throw e;
    const timedOut = Date.now() - started >= timeoutMs && !o.signal?.aborted;
    const why = timedOut ? `timed out after ${Math.round(timeoutMs / 1000)} s` : (e as Error).message;
    throw new BootforgeError("install", `overlay installer ${command} failed: ${why}`, { cause: e });
  }
}

/** Runs `get-options` with the extra options; returns the validated reply. */
export async function overlayGetOptions(
  installer: string,
  extra: { [key: string]: OverlayOptionValue } | undefined,
  o: OverlayCallOptions,
): Promise<OverlayInstallerOptions> {
  const out = await call(installer, "get-options", encodeExtraOptions(extra), o, 60_000);
  return decodeOverlayOptions(out.toString("utf8"), installer);
}

/** Runs `install`: the installer may write the disk image file and files under `mountPrefix` only. */
export async function overlayInstall(
  installer: string,
  req: OverlayInstallRequest,
  o: OverlayCallOptions,
): Promise<void> {
  await call(
    installer,
    "install",
    encodeInstallRequest(req),
    { ...o, writable: [req.installDisk, req.mountPrefix] },
    300_000,
  );
}

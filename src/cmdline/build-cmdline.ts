/**
 * The imager's kernel command line (upstream `Imager.buildCmdline`), as a pure function of the
 * resolved profile's parts. The imager and the factory both call it, so `cmdline-*` assets, UKI
 * `.cmdline` sections, GRUB entries and iPXE scripts agree byte for byte with upstream.
 */
import { encodeMetaValues, META_VALUES_ENV_VAR, type MetaValue } from "../formats/meta/meta-value.js";
import { Quirks } from "../profile/quirks.js";
import { Cmdline } from "./cmdline.js";
import { defaultKernelArgs, secureBootKernelArgs } from "./kernel-args.js";
import { canonicalPlatformName, platformKernelArgs } from "./platform-args.js";

/** Output kinds as upstream names them; only `iso` and `image` change the command line. */
export type CmdlineOutputKind = "iso" | "image" | "installer" | "kernel" | "initramfs" | "uki" | "cmdline";

/** Everything the command line depends on. */
export interface KernelCmdlineOptions {
  /** Talos platform name (`metal`, `aws`, …, `packet` as alias of `equinixMetal`). */
  platform: string;
  /** Target architecture, `amd64` or `arm64`. */
  arch: string;
  /** Talos version (`v1.11.0` or `1.11.0`); unparseable means "latest", as upstream quirks do. */
  version: string;
  /** The profile's output kind. */
  outputKind: CmdlineOutputKind;
  /** SecureBoot assets get `kernel.SecureBootArgs`. */
  secureboot?: boolean;
  /** Kernel args returned by the overlay installer's `get-options`; undefined without an overlay. */
  overlayKernelArgs?: readonly string[] | undefined;
  /** META values; on every output kind but `image` they go on the command line. */
  metaValues?: readonly MetaValue[] | undefined;
  /** User arguments (`--extra-kernel-arg`, schematic `extraKernelArgs`), applied last. */
  extraKernelArgs?: readonly string[] | undefined;
}

/**
 * Builds the kernel command line in upstream order: platform, platform args, ISO halt arg,
 * overlay args, defaults, SecureBoot args, META environment, extra args (with `console` and
 * `talos.platform` overwritten and `-key`/`-key=value` negations). Unknown platform → invalid input.
 */
export function buildKernelCmdline(opts: KernelCmdlineOptions): Cmdline {
  const platform = canonicalPlatformName(opts.platform);
  const quirks = new Quirks(opts.version);
  const cmdline = Cmdline.empty();

  cmdline.append("talos.platform", platform);
  cmdline.setAll(platformKernelArgs(platform, opts.arch, quirks));

  if (quirks.supportsHaltIfInstalled && opts.outputKind === "iso") {
    cmdline.append("talos.halt_if_installed", "1");
  }

  if (opts.overlayKernelArgs !== undefined) cmdline.setAll(opts.overlayKernelArgs);

  // Defaults first so extra args can override them.
  cmdline.appendAll(defaultKernelArgs(quirks));

  if (opts.secureboot === true) cmdline.appendAll(secureBootKernelArgs(quirks));

  // Disk images carry META in their META partition instead.
  const meta = opts.metaValues ?? [];
  if (meta.length > 0 && opts.outputKind !== "image") {
    cmdline.append(
      "talos.environment",
      `${META_VALUES_ENV_VAR}=${encodeMetaValues(meta, quirks.supportsCompressedEncodedMETA)}`,
    );
  }

  cmdline.appendAll(opts.extraKernelArgs ?? [], {
    overwriteArgs: ["console", "talos.platform"],
    deleteNegatedArgs: true,
  });

  return cmdline;
}

/** The Talos default and SecureBoot kernel arguments per version (upstream `pkg/machinery/kernel`). */
import type { Quirks } from "../profile/quirks.js";

/**
 * `kernel.DefaultArgs`: the arguments every Talos boot asset carries, in upstream order.
 * `slab_nomerge=` has an empty value on purpose: it renders as the bare `slab_nomerge`.
 */
export function defaultKernelArgs(quirks: Quirks): string[] {
  const args: string[] = [];
  if (quirks.defaultArgsIncludeInitOnAlloc) args.push("init_on_alloc=1");
  args.push("slab_nomerge=", "pti=on", "consoleblank=0");
  // From 1.14 the NVMe timeout moved to the AWS platform args.
  if (!quirks.awsNvmeTimeoutAsPlatformArg) args.push("nvme_core.io_timeout=4294967295");
  args.push("printk.devkmsg=on");
  if (quirks.supportsIMA) args.push("ima_template=ima-ng", "ima_appraise=fix", "ima_hash=sha512");
  if (quirks.supportsSELinux) args.push("selinux=1");
  if (quirks.supportsModuleSigEnforce) args.push("module.sig_enforce=1");
  if (quirks.supportsProcMemForceOverride) args.push("proc_mem.force_override=never");
  return args;
}

/** `kernel.SecureBootArgs`: `lockdown=confidentiality` before 1.14, nothing after. */
export function secureBootKernelArgs(quirks: Quirks): string[] {
  return quirks.forcesLockdownConfidentiality ? ["lockdown=confidentiality"] : [];
}

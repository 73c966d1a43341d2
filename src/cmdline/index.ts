/** Kernel command lines: the go-procfs model, Talos platform/default args and the imager's builder. */
export { Cmdline, Parameter, type AppendAllOptions } from "./cmdline.js";
export { buildKernelCmdline, type CmdlineOutputKind, type KernelCmdlineOptions } from "./build-cmdline.js";
export { defaultKernelArgs, secureBootKernelArgs } from "./kernel-args.js";
export {
  PLATFORM_NAMES,
  canonicalPlatformName,
  isPlatformName,
  platformKernelArgs,
  type PlatformName,
} from "./platform-args.js";

/** The `image` output stage: boot staging, disk assembly, formats and compression. */
export {
  buildImageOutput,
  diskImageMetaValues,
  META_KEY_DISK_IMAGE_BOOTLOADER,
  type ImageInputs,
  type ImageOutputOptions,
  type ImageOutputResult,
  type ImageOverlay,
} from "./image.js";
export {
  EFI_BOOT_NAME,
  GRUB_MODULES,
  loaderConf,
  stageGrub,
  stageSdBoot,
  type EnrollKeys,
} from "./boot-staging.js";
export { grubImageConfig, grubQuote } from "./grub-config.js";
export { overlayRawWritesHook } from "./overlay-raw.js";

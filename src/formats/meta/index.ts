/** META: value text encoding for the kernel command line, and the META partition binary format. */
export {
  decodeMetaValues,
  encodeMetaValues,
  formatMetaValue,
  META_GZIP_THRESHOLD,
  META_VALUES_ENV_VAR,
  metaEnvironmentValue,
  MetaKeys,
  MetaValueList,
  parseMetaKey,
  parseMetaValue,
  type MetaValue,
} from "./meta-value.js";
export {
  decodeMetaPartition,
  encodeMetaPartition,
  META_PARTITION_SIZE,
  type MetaPartitionContents,
} from "./meta-partition.js";
export {
  decodeTalosAdv,
  decodeTalosAdvCopy,
  encodeTalosAdv,
  encodeTalosAdvCopy,
  TALOS_ADV_DATA_LENGTH,
  TALOS_ADV_LENGTH,
  TALOS_ADV_SIZE,
  type AdvTags,
  type TalosAdvContents,
} from "./talos-adv.js";
export { SYSLINUX_ADV_COPY_SIZE, SYSLINUX_ADV_SIZE, SyslinuxAdv } from "./syslinux-adv.js";

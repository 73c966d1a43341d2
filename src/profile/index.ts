/** The profile module's public API: model, built-ins, resolution, YAML, factory grammar, catalogue. */
export * from "./model.js";
export { BUILTIN_PROFILE_NAMES, builtinProfile } from "./builtin.js";
export { mergeProfiles } from "./merge.js";
export { fillInputDefaults, fillOutputDefaults, selectBootloader, type FileExists } from "./defaults.js";
export { validateProfile, preflightProfile, checkPlatform } from "./validate.js";
export { outputPath, finalOutputPath } from "./output-path.js";
export { resolveProfile, DEFAULT_NAME, type ResolveOptions } from "./resolve.js";
export { dumpProfile, profileToYamlValue } from "./serialize.js";
export { parseProfileYaml } from "./decode.js";
export {
  ASSET_PATH_ERROR_PREFIX,
  parseAssetPath,
  parseAssetArch,
  parsePlatformArch,
  parsePxePath,
  type PxeAssets,
} from "./asset-path.js";
export { routeV2, parseInstallerImageName, type V2Route, type V2Target } from "./registry-route.js";
export { contentTypeOf } from "./content-type.js";
export * from "./platforms.js";
export { Quirks, type PartitionSizes } from "./quirks.js";
export * from "./version.js";

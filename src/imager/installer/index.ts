/** The installer image output: a docker-archive laid out as upstream's. */
export {
  artifactEntries,
  buildInstallerImage,
  type InstallerArtifacts,
  type InstallerImageOptions,
  type InstallerImageResult,
} from "./installer-image.js";
export { layerTar, walkEntries, type FileEntry } from "./layer-files.js";

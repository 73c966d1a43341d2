/** The imager pipeline: `build(profile, inputs, options)` and the stage contracts. */
export { build, isoGenerator } from "./build.js";
export { resolveStages } from "./stages.js";
export { OutputStaging } from "./publish.js";
export type * from "./types.js";

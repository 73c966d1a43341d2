/** Console reporting of build progress (upstream imager lines). */
export * from "./reporter.js";

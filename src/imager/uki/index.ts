/** PE/COFF reading and UKI assembly. */
export * from "./assemble.js";
export * from "./byte-source.js";
export * from "../../formats/pe/pe-reader.js";
export * from "../source-date-epoch.js";
export * from "../../formats/pe/splash-bmp.js";
export * from "../../formats/pe/uki-sections.js";
export * from "./uki.js";

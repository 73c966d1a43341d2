/** PE/COFF reading and UKI assembly. */
export * from "./assemble.js";
export * from "./byte-source.js";
export * from "./pe-reader.js";
export * from "./source-date-epoch.js";
export * from "./splash-bmp.js";
export * from "./uki-sections.js";
export * from "./uki.js";

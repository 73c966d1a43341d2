/** PE assembly on files and the UKI build (the PE and UKI codecs are `formats/pe/`). */
export * from "./assemble.js";
export * from "./byte-source.js";
export * from "./pe-file.js";
export * from "./section-content.js";
export * from "./uki.js";

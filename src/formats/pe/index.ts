/** PE/COFF headers, the UKI's PE layout and its generated section content. */
export * from "./pe-layout.js";
export * from "./pe-reader.js";
export * from "./splash-bmp.js";
export * from "./uki-sections.js";

// A module of the imager floor, imported from a pure floor below it (see ../../README.md).
export const ENGINE = "imager";

// A pure floor importing the imager above it (see ../../README.md).
import { ENGINE } from "../imager/engine.js";

export const USES = `schematic uses ${ENGINE}`;

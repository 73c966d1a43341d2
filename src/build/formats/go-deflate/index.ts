/** DEFLATE and gzip output byte-identical to Go's `compress/flate` and `compress/gzip`. */
export { BEST_COMPRESSION, DEFAULT_COMPRESSION, goDeflate, type GoFlateLevel } from "./deflate.js";
export { goGzip } from "./gzip.js";

/** DEFLATE and gzip output byte-identical to Go's `compress/flate` and `compress/gzip`. */
export { BEST_COMPRESSION, DEFAULT_COMPRESSION, goDeflate } from "./deflate.js";
export { goGzip } from "./gzip.js";

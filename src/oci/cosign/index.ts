/** Cosign-compatible image signatures: format, keys, signing, verification. */
export * from "./format.js";
export * from "./keys.js";
export * from "./signature-image.js";
export * from "./signature-source.js";
export * from "./verify.js";
export * from "./keyless.js";
export * from "./trusted-root.js";
export * from "./verify-image.js";

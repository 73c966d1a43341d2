/** SecureBoot: Authenticode, PCR 11 signatures, enrollment database, keys, signed UKIs. */
export * from "./authenticode.js";
export * from "./enrollment.js";
export * from "./keys.js";
export * from "./pcr.js";
export * from "./pkcs7.js";
export * from "./signed-uki.js";
export * from "./signer.js";
export * from "./well-known-certs.js";
export * from "./x509.js";

/**
 * The Microsoft certificates upstream enrolls with `--secureboot-include-well-known-certs`
 * (imager.md §7.6), shipped as DER files in `well-known/` (provenance and fingerprints in its
 * README). Kept in upstream's order (its embed-FS name order), as the ESLs list them in that order.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ioError } from "../../errors/index.js";

/** One shipped certificate: the variable it goes into, its file and what it is. */
export interface WellKnownCertificate {
  variable: "KEK" | "db";
  file: string;
  commonName: string;
  /** SHA-256 of the DER, as the README lists it: the loader refuses a file that differs. */
  sha256: string;
}

/** Upstream's list, in upstream's order within each variable. */
export const WELL_KNOWN_CERTIFICATES: readonly WellKnownCertificate[] = [
  {
    variable: "KEK",
    file: "kek/microsoft-corporation-kek-ca-2011.der",
    commonName: "Microsoft Corporation KEK CA 2011",
    sha256: "a1117f516a32cefcba3f2d1ace10a87972fd6bbe8fe0d0b996e09e65d802a503",
  },
  {
    variable: "KEK",
    file: "kek/microsoft-corporation-kek-2k-ca-2023.der",
    commonName: "Microsoft Corporation KEK 2K CA 2023",
    sha256: "3cd3f0309edae228767a976dd40d9f4affc4fbd5218f2e8cc3c9dd97e8ac6f9d",
  },
  {
    variable: "db",
    file: "db/microsoft-corporation-uefi-ca-2011.der",
    commonName: "Microsoft Corporation UEFI CA 2011",
    sha256: "48e99b991f57fc52f76149599bff0a58c47154229b9f8d603ac40d3500248507",
  },
  {
    variable: "db",
    file: "db/microsoft-option-rom-uefi-ca-2023.der",
    commonName: "Microsoft Option ROM UEFI CA 2023",
    sha256: "e5be3e64c6e66a281457ecdece0d6d0787577aad2a3a0144262c10c14ba8d8f1",
  },
  {
    variable: "db",
    file: "db/microsoft-uefi-ca-2023.der",
    commonName: "Microsoft UEFI CA 2023",
    sha256: "f6124e34125bee3fe6d79a574eaa7b91c0e7bd9d929c1a321178efd611dad901",
  },
];

/** Where the DER files are, beside this module (the build copies the folder next to the output). */
export const WELL_KNOWN_DIR = new URL("./well-known/", import.meta.url);

/** The DER certificates for KEK and db, read and checked against their fingerprints. */
export async function loadWellKnownCertificates(): Promise<{ kek: Buffer[]; db: Buffer[] }> {
  const out: { kek: Buffer[]; db: Buffer[] } = { kek: [], db: [] };
  for (const c of WELL_KNOWN_CERTIFICATES) {
    const url = new URL(c.file, WELL_KNOWN_DIR);
    let der: Buffer;
    try {
      der = await readFile(url);
    } catch (e) {
      throw ioError(`cannot read the well-known certificate ${url.pathname}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    const got = createHash("sha256").update(der).digest("hex");
    if (got !== c.sha256)
      throw ioError(`well-known certificate ${url.pathname} has SHA-256 ${got}, expected ${c.sha256}`);
    (c.variable === "KEK" ? out.kek : out.db).push(der);
  }
  return out;
}

/**
 * Single-board computers the wizard offers, with the overlay each one needs (the Talos platform
 * catalogue's SBC list). Kept here until `src/profile/platforms.ts` carries SBCs; then this file
 * should re-export from there.
 */
import { compareVersions, parseTalosVersion } from "../../profile/version.js";

/** One board as the wizard shows it. */
export interface Board {
  /** Wizard value (`rpi_generic`). */
  readonly name: string;
  readonly label: string;
  /** Overlay name in the overlays catalog and the schematic (`rpi_generic`). */
  readonly overlayName: string;
  /** Overlay image repository as schematics spell it (`siderolabs/sbc-raspberrypi`). */
  readonly overlayImage: string;
  /** Oldest Talos version offering the board (full semver order), if restricted. */
  readonly minVersion?: string;
  /** Guide path below the Talos documentation site. */
  readonly documentation?: string;
}

const SBC_DOCS = "/talos-guides/install/single-board-computers";

/** The boards in upstream order. */
export const BOARDS: readonly Board[] = [
  { name: "rpi_generic", label: "Raspberry Pi Series", overlayName: "rpi_generic", overlayImage: "siderolabs/sbc-raspberrypi", documentation: `${SBC_DOCS}/rpi_generic/` },
  { name: "bananapi_m64", label: "Banana Pi M64", overlayName: "bananapi_m64", overlayImage: "siderolabs/sbc-allwinner", documentation: `${SBC_DOCS}/bananapi_m64/` },
  { name: "nanopi_r4s", label: "Friendlyelec Nano PI R4S", overlayName: "nanopi-r4s", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.3.0", documentation: `${SBC_DOCS}/nanopi_r4s/` },
  { name: "nanopi_r5s", label: "Friendlyelec Nano PI R5S", overlayName: "nanopi-r5s", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.8.0-alpha.2" },
  { name: "jetson_nano", label: "Jetson Nano", overlayName: "jetson_nano", overlayImage: "siderolabs/sbc-jetson", documentation: `${SBC_DOCS}/jetson_nano/` },
  { name: "libretech_all_h3_cc_h5", label: "Libre Computer Board ALL-H3-CC", overlayName: "libretech_all_h3_cc_h5", overlayImage: "siderolabs/sbc-allwinner", documentation: `${SBC_DOCS}/libretech_all_h3_cc_h5/` },
  { name: "orangepi_r1_plus_lts", label: "Orange Pi R1 Plus LTS", overlayName: "orangepi-r1-plus-lts", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.7.0", documentation: `${SBC_DOCS}/orangepi_r1_plus_lts/` },
  { name: "pine64", label: "Pine64", overlayName: "pine64", overlayImage: "siderolabs/sbc-allwinner", documentation: `${SBC_DOCS}/pine64/` },
  { name: "rock64", label: "Pine64 Rock64", overlayName: "rock64", overlayImage: "siderolabs/sbc-rockchip", documentation: `${SBC_DOCS}/rock64/` },
  { name: "rock4cplus", label: "Radxa ROCK 4C Plus", overlayName: "rock4cplus", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.7.0", documentation: `${SBC_DOCS}/rock4cplus/` },
  { name: "rock4se", label: "Radxa ROCK 4SE", overlayName: "rock4se", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.8.0-alpha.1" },
  { name: "rock5b", label: "Radxa ROCK 5B", overlayName: "rock5b", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.9.2", documentation: `${SBC_DOCS}/rock5b/` },
  { name: "rockpi_4", label: "Radxa ROCK PI 4", overlayName: "rockpi4", overlayImage: "siderolabs/sbc-rockchip", documentation: `${SBC_DOCS}/rockpi_4/` },
  { name: "rockpi_4c", label: "Radxa ROCK PI 4C", overlayName: "rockpi4c", overlayImage: "siderolabs/sbc-rockchip", documentation: `${SBC_DOCS}/rockpi_4c/` },
  { name: "helios64", label: "Kobol Helios64", overlayName: "helios64", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.8.0-alpha.2" },
  { name: "turingrk1", label: "Turing RK1", overlayName: "turingrk1", overlayImage: "siderolabs/sbc-rockchip", minVersion: "1.9.0-beta.0", documentation: `${SBC_DOCS}/turing_rk1/` },
];

/** Boards offered for a Talos version (full semver order, so `1.9.0-beta.0` counts). */
export function boardsFor(version: string): Board[] {
  const v = parseTalosVersion(version);
  return BOARDS.filter((b) => {
    if (b.minVersion === undefined) return true;
    const min = parseTalosVersion(b.minVersion);
    return v !== undefined && min !== undefined && compareVersions(v, min) >= 0;
  });
}

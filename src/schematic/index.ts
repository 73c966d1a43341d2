export {
  BOOTLOADER_KINDS,
  SCHEMATIC_SPEC,
  createSchematic,
  type BootloaderKind,
  type Customization,
  type DiskImageCustomization,
  type MetaValue,
  type Overlay,
  type Schematic,
  type SchematicInit,
  type SecureBootCustomization,
  type SystemExtensions,
} from "./model.js";
export {
  MAX_SCHEMATIC_BYTES,
  canonicalSchematic,
  idOfCanonical,
  parseSchematic,
  schematicId,
  schematicYamlValue,
  validateSchematic,
} from "./schematic.js";

// Half of a deliberate cycle made of type-only imports (see ../../README.md).
import type { Registry } from "./registry.js";

export interface Services {
  registry: Registry;
}

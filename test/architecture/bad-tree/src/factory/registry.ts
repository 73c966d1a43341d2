// Half of a deliberate cycle made of type-only imports (see ../../README.md).
import type { Services } from "./services.js";

export interface Registry {
  lookup(services: Services, name: string): string;
}

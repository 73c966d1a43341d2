// Half of a deliberate import cycle (see ../../README.md).
import { first } from "./cycle-a.js";

export function second(n: number): number {
  return n <= 0 ? 1 : first(n - 1);
}

// Half of a deliberate import cycle (see ../../README.md).
import { second } from "./cycle-b.js";

export function first(n: number): number {
  return n <= 0 ? 0 : second(n - 1);
}

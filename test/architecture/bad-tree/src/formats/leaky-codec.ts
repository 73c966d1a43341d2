// A codec that reads a file itself: I/O in a pure floor (see ../../README.md).
import { readFileSync } from "node:fs";

export function decode(path: string): number {
  return readFileSync(path).length;
}

// Test code beside a codec may use files: this import is allowed (see ../../../README.md).
import { readFileSync } from "node:fs";

export function sampleBytes(path: string): Buffer {
  return readFileSync(path);
}

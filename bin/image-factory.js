#!/usr/bin/env node
// Runs the compiled CLI when built, the TypeScript source (via tsx) otherwise.
import { run } from "./launch.js";
await run("image-factory");

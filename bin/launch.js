// Chooses dist/ (after `npm run build`) or src/ through tsx, so a clean clone works without a build step.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function run(name) {
  const built = join(root, "dist", "cli", `${name}.js`);
  if (existsSync(built)) {
    const mod = await import(pathToFileURL(built).href);
    await mod.main(process.argv.slice(2));
    return;
  }
  const { register } = await import("tsx/esm/api");
  register();
  const mod = await import(pathToFileURL(join(root, "src", "cli", `${name}.ts`)).href);
  await mod.main(process.argv.slice(2));
}

// The bins run the TypeScript sources through tsx, so a clean clone works without a build step.
// `npm run build` compiles everything to dist/; set BOOTFORGE_DIST=1 to run that compiled tree
// instead (plain JavaScript, no tsx at run time).
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function run(name) {
  if (process.env.BOOTFORGE_DIST === "1") {
    const mod = await import(pathToFileURL(join(root, "dist", "src", "cli", `${name}.js`)).href);
    await mod.main(process.argv.slice(2));
    return;
  }
  const { register } = await import("tsx/esm/api");
  register();
  const mod = await import(pathToFileURL(join(root, "src", "cli", `${name}.ts`)).href);
  await mod.main(process.argv.slice(2));
}

// Import rules of the tree (docs/architecture.md): no cycles, type-only imports included, and each
// floor imports only the floors below it. Run by `npm run lint`; test/architecture proves that a
// cycle or a forbidden import fails it.
import { join } from "node:path";

// Test code (`*.test.ts` and testing/ folders, which the build leaves out too) may reach any floor
// to set up and check the module under test with real files and tools; the floor rules bind library
// code. Cycles bind everything.
const TEST_CODE = "(\\.test\\.tsx?$|/testing/)";
// Floors that are pure: data in, data out, synchronous or over streams and buffers handed in.
const PURE_FLOORS = "^src/(yaml|schematic|profile|cmdline|formats|errors)/";
// Node modules that reach the file system, other processes or the network.
const IO_MODULES =
  "^(node:)?(fs|fs/promises|child_process|net|http|https|http2|dgram|dns|tls|cluster|worker_threads)$";

/** A floor rule: library code under `from` must not import `to`. */
const floor = (name, comment, from, to) => ({
  name,
  comment,
  severity: "error",
  from: { path: from, pathNot: TEST_CODE },
  to,
});

export default {
  forbidden: [
    {
      name: "no-cycle",
      comment: "Modules import each other in one direction only (type-only imports count too).",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    floor(
      "pure-floor-no-io",
      "yaml, schematic, profile, cmdline, formats and errors do no I/O: bytes and streams are handed in.",
      PURE_FLOORS,
      { dependencyTypes: ["core"], path: IO_MODULES },
    ),
    floor("pure-floor-no-effects", "The pure floors sit below everything that does I/O.", PURE_FLOORS, {
      path: "^src/(oci|release|imager|factory|cli)/",
    }),
    floor("yaml-alone", "src/yaml imports nothing in src but src/errors.", "^src/yaml/", {
      path: "^src/",
      pathNot: "^src/(yaml|errors)/",
    }),
    floor("errors-alone", "src/errors is the bottom floor: it imports nothing in src.", "^src/errors/", {
      path: "^src/",
      pathNot: "^src/errors/",
    }),
    floor(
      "pure-floor-order",
      "profile and schematic sit below the codecs, the codecs below the command line.",
      "^src/(profile|schematic)/",
      { path: "^src/(formats|cmdline)/" },
    ),
    floor("formats-below-cmdline", "Codecs know nothing of command lines.", "^src/formats/", {
      path: "^src/cmdline/",
    }),
    floor("oci-below-release", "src/oci knows nothing of releases, builds or front doors.", "^src/oci/", {
      path: "^src/(release|imager|factory|cli)/",
    }),
    floor("release-below-builds", "src/release knows nothing of builds or front doors.", "^src/release/", {
      path: "^src/(imager|factory|cli)/",
    }),
    floor("imager-not-front-doors", "The imager engine is shared by both front doors.", "^src/imager/", {
      path: "^src/(factory|cli)/",
    }),
    floor("factory-not-cli", "The factory is a library; src/cli only wires it up.", "^src/factory/", {
      path: "^src/cli/",
    }),
    floor(
      "src-not-tooling",
      "Library code never imports the fixture builder, benchmarks or test helpers.",
      "^src/",
      { path: "^(test|fixtures|bench)/" },
    ),
    {
      name: "resolvable",
      comment: "Every import resolves (a typo would otherwise hide a dependency from these rules).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are dependencies too: a cycle through `import type` is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: join(import.meta.dirname, "tsconfig.json") },
    doNotFollow: { path: "node_modules" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
    },
  },
};

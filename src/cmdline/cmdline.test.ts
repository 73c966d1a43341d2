import { test } from "node:test";
import assert from "node:assert/strict";
import { readVectors } from "../../test/helpers/shared.js";
import { Cmdline, Parameter } from "./cmdline.js";

interface P {
  key: string;
  values: string[];
}
interface Vector {
  test: string;
  operation: string;
  input?: string;
  key?: string;
  value?: string;
  index?: number;
  args?: string[];
  options?: { overwriteArgs: string[]; deleteNegatedArgs: boolean };
  parameter?: P | null;
  expected?: unknown;
  expectedParameters?: P[];
  expectedParameter?: P;
  expectedGet?: P;
  expectedString?: string;
  expectedStrings?: string[];
  expectedNoDuplicateKeys?: boolean;
}

const { vectors } = readVectors<{ vectors: Vector[] }>("procfs-cmdline.json");

const plain = (p: Parameter | undefined) =>
  p === undefined ? undefined : { key: p.key, values: [...p.values] };
const param = (p: P) => new Parameter(p.key, p.values);

function noDuplicateKeys(c: Cmdline): boolean {
  const keys = c.parameters.map((p) => p.key);
  return new Set(keys).size === keys.length;
}

test("go-procfs cmdline vectors", async (t) => {
  for (const [i, v] of vectors.entries()) {
    await t.test(`${i} ${v.test} ${v.operation} ${JSON.stringify(v.input ?? v.parameter)}`, () => {
      const c = Cmdline.parse(v.input ?? "");
      switch (v.operation) {
        case "parse":
          assert.deepEqual(c.parameters.map(plain), v.expectedParameters);
          return;
        case "get":
          assert.deepEqual(plain(c.get(v.key!)), v.expectedParameter);
          return;
        case "set":
          c.set(v.key!, param(v.parameter!));
          assert.deepEqual(plain(c.get(v.key!)), v.expectedGet);
          assert.equal(c.toString(), v.expectedString);
          return;
        case "delete":
          c.delete(param(v.parameter!));
          assert.equal(c.toString(), v.expectedString);
          return;
        case "deleteAll":
          c.deleteAll(v.key!);
          assert.equal(c.toString(), v.expectedString);
          return;
        case "append":
          c.append(v.key!, v.value!);
          assert.deepEqual(plain(c.get(v.key!)), v.expectedGet);
          return;
        case "appendAll":
          c.appendAll(v.args!, v.options);
          assert.equal(c.toString(), v.expectedString);
          if (v.expectedNoDuplicateKeys) assert.ok(noDuplicateKeys(c));
          return;
        case "setAll":
          c.setAll(v.args!);
          assert.equal(c.toString(), v.expectedString);
          if (v.expectedNoDuplicateKeys) assert.ok(noDuplicateKeys(c));
          return;
        case "string":
          assert.equal(c.toString(), v.expectedString);
          return;
        case "strings":
          assert.deepEqual(c.strings(), v.expectedStrings);
          return;
        case "parameter.first":
          assert.equal(v.parameter ? param(v.parameter).first() : undefined, v.expected ?? undefined);
          return;
        case "parameter.get":
          assert.equal(param(v.parameter!).get(v.index!), v.expected ?? undefined);
          return;
        case "parameter.append":
          assert.deepEqual(plain(param(v.parameter!).append(v.value!)), v.expectedParameter);
          return;
        case "parameter.contains":
          assert.equal(param(v.parameter!).contains(v.value!), v.expected);
          return;
        default:
          assert.fail(`unknown operation ${v.operation}`);
      }
    });
  }
});

test("every vector operation is covered", () => {
  assert.equal(vectors.length, 49);
});

test("--extra-kernel-arg semantics from the imager reference", () => {
  const opts = { overwriteArgs: ["console", "talos.platform"], deleteNegatedArgs: true };
  const base = () =>
    Cmdline.parse("talos.platform=metal console=ttyS0 console=tty0 init_on_alloc=1 slab_nomerge pti=on");
  // console is overwritten in place, other keys append beside their existing values.
  assert.equal(
    base().appendAll(["console=ttyS1", "console=tty0", "init_on_alloc=0"], opts).toString(),
    "talos.platform=metal console=ttyS1 console=tty0 init_on_alloc=1 init_on_alloc=0 slab_nomerge pti=on",
  );
  // -key=value removes one value, -key every value, and grouped negations are all applied.
  assert.equal(
    base().appendAll(["-console=tty0"], opts).toString(),
    "talos.platform=metal console=ttyS0 init_on_alloc=1 slab_nomerge pti=on",
  );
  assert.equal(
    base().appendAll(["-console=tty0", "-console=ttyS0"], opts).toString(),
    "talos.platform=metal init_on_alloc=1 slab_nomerge pti=on",
  );
  assert.equal(
    base().appendAll(["-console", "-console=x"], opts).toString(),
    "talos.platform=metal init_on_alloc=1 slab_nomerge pti=on",
  );
  assert.equal(
    base().appendAll(["-slab_nomerge"], opts).toString(),
    "talos.platform=metal console=ttyS0 console=tty0 init_on_alloc=1 pti=on",
  );
  // talos.platform is overwritten, a bare "-" is an ordinary argument.
  assert.equal(
    base().appendAll(["talos.platform=aws", "-"], opts).toString(),
    "talos.platform=aws console=ttyS0 console=tty0 init_on_alloc=1 slab_nomerge pti=on -",
  );
  // A parameter emptied by -key=value can be appended to again, at its old position.
  assert.equal(
    Cmdline.parse("a=1 b=2").appendAll(["-a=1", "a=3"], { deleteNegatedArgs: true }).toString(),
    "a=3 b=2",
  );
});

test("parsing follows Go's whitespace rules and keeps values verbatim", () => {
  assert.deepEqual(Cmdline.parse("a=1\u0085b=2\u00a0c").strings(), ["a=1", "b=2", "c"]);
  // U+FEFF is not a separator in Go, unlike JavaScript's \s.
  assert.deepEqual(Cmdline.parse("a=\ufeff").strings(), ["a=\ufeff"]);
  assert.equal(Cmdline.parse("x\n\n").toString(), "x");
  assert.deepEqual(Cmdline.parse("").strings(), [""]);
});

test("returned parameters are copies", () => {
  const c = Cmdline.parse("a=1");
  c.get("a")!.append("2");
  c.parameters[0]!.append("3");
  const p = new Parameter("b", ["x"]);
  c.set("b", p);
  p.append("y");
  assert.equal(c.toString(), "a=1 b=x");
  const d = c.clone().append("a", "9");
  assert.equal(c.toString(), "a=1 b=x");
  assert.equal(d.toString(), "a=1 a=9 b=x");
});

/**
 * Kernel command line model with the semantics of go-procfs v0.1.2 (`procfs/cmdline.go`), the
 * library both the Talos imager and the Image Factory build command lines with. Users see the
 * resulting string byte for byte (iPXE scripts, UKI `.cmdline`, `cmdline-*` assets), so the
 * grouping, ordering and rendering rules are reproduced exactly.
 */

/** One kernel parameter key with every value given for it, in order (`""` for a bare key). */
export class Parameter {
  readonly key: string;
  readonly values: string[];

  constructor(key: string, values: readonly string[] = []) {
    this.key = key;
    this.values = [...values];
  }

  /** The first value, or undefined when there is none. */
  first(): string | undefined {
    return this.values[0];
  }

  /** The value at `index`, or undefined when out of range. */
  get(index: number): string | undefined {
    return index >= 0 && index < this.values.length ? this.values[index] : undefined;
  }

  /** Adds a value at the end; returns this parameter for chaining. */
  append(value: string): this {
    this.values.push(value);
    return this;
  }

  /** True when some value equals `value` exactly. */
  contains(value: string): boolean {
    return this.values.includes(value);
  }

  /** A deep copy, so a Cmdline never shares mutable state with its caller. */
  clone(): Parameter {
    return new Parameter(this.key, this.values);
  }
}

/** Options of {@link Cmdline.appendAll}, as go-procfs `WithOverwriteArgs`/`WithDeleteNegatedArgs`. */
export interface AppendAllOptions {
  /** Keys whose whole parameter is replaced in place instead of appended to. */
  overwriteArgs?: readonly string[];
  /** Treat `-key` as "delete every value of key" and `-key=v` as "delete value v of key". */
  deleteNegatedArgs?: boolean;
}

// Go's strings.Fields splits on unicode.IsSpace. JavaScript's \s differs (it has U+FEFF, lacks
// U+0085), so the set is spelled out to split exactly where upstream does.
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Upstream `parse`: one trailing newline dropped, fields split on the first `=`, keys grouped. */
function parseParameters(text: string): Parameter[] {
  const line = text.endsWith("\n") ? text.slice(0, -1) : text;
  const out: Parameter[] = [];
  for (const field of line.split(GO_SPACE)) {
    if (field === "") continue;
    const eq = field.indexOf("=");
    const key = eq < 0 ? field : field.slice(0, eq);
    const value = eq < 0 ? "" : field.slice(eq + 1);
    const existing = out.find((p) => p.key === key);
    if (existing) existing.append(value);
    else out.push(new Parameter(key, [value]));
  }
  return out;
}

/** An ordered kernel command line; parameters with the same key are grouped at the first occurrence. */
export class Cmdline {
  private params: Parameter[];

  private constructor(params: Parameter[]) {
    this.params = params;
  }

  /** Parses a command line (go-procfs `NewCmdline`); never fails. */
  static parse(text = ""): Cmdline {
    return new Cmdline(parseParameters(text));
  }

  /** An empty command line. */
  static empty(): Cmdline {
    return new Cmdline([]);
  }

  /** Copies of the grouped parameters, in order. */
  get parameters(): Parameter[] {
    return this.params.map((p) => p.clone());
  }

  /** A copy of the grouped parameter for `key`, or undefined. */
  get(key: string): Parameter | undefined {
    return this.params.find((p) => p.key === key)?.clone();
  }

  /** Replaces the parameter for `key` in place (all its values), or appends it at the end. */
  set(key: string, parameter: Parameter): this {
    const i = this.params.findIndex((p) => p.key === key);
    if (i >= 0) this.params[i] = parameter.clone();
    else this.params.push(parameter.clone());
    return this;
  }

  /** Parses `args` joined by spaces and {@link set}s each grouped parameter. */
  setAll(args: readonly string[]): this {
    for (const p of parseParameters(args.join(" "))) this.set(p.key, p);
    return this;
  }

  /** Removes from the parameter with the same key every value listed in `parameter` (the key stays). */
  delete(parameter: Parameter): this {
    const target = this.params.find((p) => p.key === parameter.key);
    if (target) {
      const drop = new Set(parameter.values);
      const kept = target.values.filter((v) => !drop.has(v));
      target.values.splice(0, target.values.length, ...kept);
    }
    return this;
  }

  /** Removes the parameter for `key` entirely. */
  deleteAll(key: string): this {
    const i = this.params.findIndex((p) => p.key === key);
    if (i >= 0) this.params.splice(i, 1);
    return this;
  }

  /** Adds `value` after the existing values of `key`, or a new parameter at the end. */
  append(key: string, value: string): this {
    const existing = this.params.find((p) => p.key === key);
    if (existing) existing.append(value);
    else this.params.push(new Parameter(key, [value]));
    return this;
  }

  /**
   * Parses `args` joined by spaces; per grouped parameter: negations delete (when enabled),
   * overwrite keys replace in place, anything else appends value by value.
   */
  appendAll(args: readonly string[], options: AppendAllOptions = {}): this {
    const overwrite = new Set(options.overwriteArgs ?? []);
    for (const p of parseParameters(args.join(" "))) {
      // A bare "-" is a valid kernel argument, not a negation.
      if (options.deleteNegatedArgs === true && p.key.length > 1 && p.key.startsWith("-")) {
        const key = p.key.slice(1);
        if (p.values[0] === "") this.deleteAll(key);
        else this.delete(new Parameter(key, p.values));
        continue;
      }
      if (overwrite.has(p.key)) {
        this.set(p.key, p);
        continue;
      }
      for (const v of p.values) this.append(p.key, v);
    }
    return this;
  }

  /** Renders `k=v` per value (`k` for an empty value), space separated, as the kernel reads it. */
  toString(): string {
    const parts: string[] = [];
    for (const p of this.params) {
      for (const v of p.values) parts.push(v === "" ? p.key : `${p.key}=${v}`);
    }
    // Upstream trims trailing spaces of the joined string; an empty key with an empty value
    // renders as "" and so can leave one there.
    return parts.join(" ").replace(/ +$/, "");
  }

  /** {@link toString} split on single spaces (`[""]` for an empty command line, as upstream). */
  strings(): string[] {
    return this.toString().split(" ");
  }

  /** A deep copy. */
  clone(): Cmdline {
    return new Cmdline(this.params.map((p) => p.clone()));
  }
}

/**
 * Strict decoding of a user profile YAML (the imager's `-` stdin profile, overlay profiles):
 * unknown or duplicate keys and wrongly typed values are errors naming the line, where upstream's
 * non-strict decoder would silently drop them.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from "yaml";
import { invalidInput } from "../errors/index.js";
import type { Profile } from "./model.js";
import { PROFILE_SCHEMA, type FieldType } from "./schema.js";

// YAML 1.1 booleans, which go-yaml still accepts when the target field is a bool.
const TRUE_WORDS = new Set(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"]);
const FALSE_WORDS = new Set(["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"]);

/** Parses profile YAML text strictly into a Profile; errors are invalid input with a line number. */
export function parseProfileYaml(text: string): Profile {
  const lc = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, lineCounter: lc, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const line = lc.linePos(first.pos[0]).line;
    throw invalidInput(`invalid profile YAML at line ${line}: ${first.message.split("\n")[0]}`, { line });
  }
  if (doc.contents === null) throw invalidInput("the profile is empty");

  const fail = (node: Node | null | undefined, path: string, message: string): never => {
    const pos = node?.range ? lc.linePos(node.range[0]) : undefined;
    const where = pos ? `line ${pos.line}: ` : "";
    throw invalidInput(`invalid profile: ${where}${message}`, { path, line: pos?.line, column: pos?.col });
  };

  const decode = (type: FieldType, node: Node | null | undefined, path: string): unknown => {
    if (node === null || node === undefined) return undefined;
    if (isScalar(node) && node.value === null) return undefined;
    switch (type.t) {
      case "struct": {
        if (!isMap(node)) return fail(node, path, `${path || "profile"} must be a mapping`);
        const out: Record<string, unknown> = {};
        for (const pair of node.items) {
          const keyNode = pair.key as Node | null;
          const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
          const fd = type.fields.find((f) => f.key === key);
          const fieldPath = path ? `${path}.${key}` : String(key);
          if (fd === undefined) {
            return fail(keyNode, fieldPath, `unknown field ${JSON.stringify(key)} in ${path || "profile"}`);
          }
          const v = decode(fd.type, pair.value as Node | null, fieldPath);
          if (v !== undefined) out[fd.key] = v;
          // An explicit empty pointer struct (`isoOptions: {}`) is still a set pointer.
          else if (fd.pointer && fd.type.t === "struct" && isMap(pair.value)) out[fd.key] = {};
        }
        return out;
      }
      case "list": {
        if (!isSeq(node)) return fail(node, path, `${path} must be a list`);
        return node.items.map((item, i) => decode(type.of, item as Node, `${path}[${i}]`) ?? zeroOf(type.of));
      }
      case "map": {
        if (!isMap(node)) return fail(node, path, `${path} must be a mapping`);
        return node.toJS(doc) as unknown;
      }
      default: {
        if (!isScalar(node)) return fail(node, path, `${path} must be a scalar`);
        const value = node.value;
        // Plain scalars keep their source text (`version: 1.10` stays "1.10", as go-yaml does).
        const text = typeof value === "string" ? value : (node.source ?? String(value));
        switch (type.t) {
          case "string":
            return text;
          case "bool":
            if (typeof value === "boolean") return value;
            if (TRUE_WORDS.has(text)) return true;
            if (FALSE_WORDS.has(text)) return false;
            return fail(node, path, `cannot decode ${JSON.stringify(text)} into a bool`);
          case "int": {
            const n = typeof value === "number" || typeof value === "bigint" ? Number(value) : NaN;
            if (!Number.isSafeInteger(n) || n < type.min || n > type.max) {
              return fail(
                node,
                path,
                `cannot decode ${JSON.stringify(text)} into an integer in [${type.min}, ${type.max}]`,
              );
            }
            return n;
          }
          case "enum": {
            const found =
              type.values.find((v) => v === text) ?? type.values.find((v) => v === text.toLowerCase());
            if (found === undefined) {
              return fail(
                node,
                path,
                `${text} does not belong to ${type.name} values (${type.values.join(", ")})`,
              );
            }
            return found;
          }
        }
      }
    }
  };

  return decode(PROFILE_SCHEMA, doc.contents, "") ?? {};
}

function zeroOf(type: FieldType): unknown {
  switch (type.t) {
    case "string":
      return "";
    case "int":
      return 0;
    case "bool":
      return false;
    case "enum":
      return type.values[0];
    case "list":
      return [];
    default:
      return {};
  }
}

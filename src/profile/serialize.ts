/**
 * Profile → YAML exactly as upstream's `Profile.Dump` prints it after `profile ready:`
 * (go.yaml.in/yaml/v4 encoder, `SetIndent(2)`): struct field order, omitempty, `*bool secureboot`
 * always printed, enums as their names.
 */
import { GoFloat, GoMap, marshal, type YamlValue } from "../yaml/emit.js";
import type { OverlayOptionValue, Profile } from "./model.js";
import { isZero, PROFILE_SCHEMA, type FieldType } from "./schema.js";

/** The profile as the value upstream's encoder walks (plain objects are Go structs). */
export function profileToYamlValue(p: Profile): YamlValue {
  return toYaml(PROFILE_SCHEMA, p);
}

/** The profile YAML text, byte-compatible with upstream's dump (2-space indent). */
export function dumpProfile(p: Profile): string {
  // The encoder (unlike yaml.Marshal) keeps libyaml's 80-column preferred width.
  const options = { indent: 2, lineWidth: 80 };
  return marshal(profileToYamlValue(p), options);
}

function toYaml(type: FieldType, v: unknown): YamlValue {
  switch (type.t) {
    case "string":
      return (v as string | undefined) ?? "";
    case "int":
      return (v as number | bigint | undefined) ?? 0;
    case "bool":
      return (v as boolean | undefined) ?? false;
    case "enum":
      return (v as string | undefined) ?? type.values[0]!;
    case "list":
      return ((v as unknown[] | undefined) ?? []).map((x) => toYaml(type.of, x));
    case "map":
      return dynamic((v ?? {}) as OverlayOptionValue);
    case "struct": {
      const obj = (v ?? {}) as Record<string, unknown>;
      const out: { [key: string]: YamlValue } = {};
      for (const fd of type.fields) {
        const fv = obj[fd.key];
        if (fd.pointer) {
          if (fv === undefined || fv === null) {
            if (!fd.omitempty) out[fd.key] = null;
          } else {
            out[fd.key] = toYaml(fd.type, fv);
          }
        } else if (!(fd.omitempty && isZero(fd.type, fv))) {
          out[fd.key] = toYaml(fd.type, fv);
        }
      }
      return out;
    }
  }
}

/** A decoded `any` value: objects are Go maps (sorted keys), non-integral numbers float64. */
function dynamic(v: OverlayOptionValue): YamlValue {
  if (v === null || typeof v === "string" || typeof v === "boolean" || typeof v === "bigint") return v;
  if (typeof v === "number") return Number.isInteger(v) ? v : new GoFloat(v);
  if (Array.isArray(v)) return v.map(dynamic);
  return new GoMap(Object.entries(v).map(([k, x]) => [k, dynamic(x)] as const));
}

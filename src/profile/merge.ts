/**
 * Profile merge with upstream's `config/merge` rules: non-zero scalars from the right override,
 * booleans always override (so an absent `forceInsecure` resets it to false), pointers set on
 * the right are merged into (or copied onto) the left and a `*bool` is overwritten even with
 * false, lists concatenate, maps merge key by key.
 */
import { invalidInput } from "../errors/index.js";
import type { OverlayOptionValue, Profile } from "./model.js";
import { isZero, PROFILE_SCHEMA, type FieldDef, type FieldType } from "./schema.js";

/** Merges `right` onto a copy of `base` (neither argument is modified). */
export function mergeProfiles(base: Profile, right: Profile): Profile {
  return mergeValue(PROFILE_SCHEMA, base, right, false, "") ?? {};
}

function mergeValue(type: FieldType, l: unknown, r: unknown, overwrite: boolean, path: string): unknown {
  switch (type.t) {
    case "string":
    case "int":
    case "enum":
      return isZero(type, r) && !overwrite ? clone(l) : clone(r);
    case "bool":
      return r;
    case "list": {
      const rl = (r as unknown[] | undefined) ?? [];
      const ll = (l as unknown[] | undefined) ?? [];
      return rl.length === 0 ? clone(l) : clone([...ll, ...rl]);
    }
    case "map":
      return mergeMap(
        l as Record<string, OverlayOptionValue> | undefined,
        r as Record<string, OverlayOptionValue> | undefined,
        path,
      );
    case "struct": {
      const lo = (l ?? {}) as Record<string, unknown>;
      const ro = (r ?? {}) as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const fd of type.fields) {
        const v = fd.pointer
          ? mergePointer(fd, lo[fd.key], ro[fd.key], join(path, fd.key))
          : mergeValue(fd.type, lo[fd.key], ro[fd.key], false, join(path, fd.key));
        if (v !== undefined) out[fd.key] = v;
      }
      return Object.keys(out).length === 0 ? undefined : out;
    }
  }
}

function mergePointer(fd: FieldDef, l: unknown, r: unknown, path: string): unknown {
  if (r === undefined || r === null) return clone(l);
  if (l === undefined || l === null) return clone(r);
  const merged = mergeValue(fd.type, l, r, true, path);
  // A set pointer stays set even when everything it points to is zero.
  return merged ?? (fd.type.t === "struct" ? {} : merged);
}

type OptionMap = Record<string, OverlayOptionValue>;

function mergeMap(l: OptionMap | undefined, r: OptionMap | undefined, path: string): OptionMap | undefined {
  if (r === undefined || Object.keys(r).length === 0) return clone(l);
  const out: OptionMap = clone(l) ?? {};
  for (const [k, rv] of Object.entries(r)) {
    const lv = out[k];
    out[k] = lv === undefined || lv === null ? clone(rv) : mergeDynamic(lv, rv, `${path}[${k}]`);
  }
  return out;
}

/** Merges two `any` values of a Go map: their dynamic types must match, as upstream requires. */
function mergeDynamic(l: OverlayOptionValue, r: OverlayOptionValue, path: string): OverlayOptionValue {
  const kind = (v: OverlayOptionValue) => (v === null ? "null" : Array.isArray(v) ? "list" : typeof v);
  if (kind(l) !== kind(r)) {
    throw invalidInput(`merge type mismatch at ${path}: ${kind(l)} vs ${kind(r)}`, { path });
  }
  if (Array.isArray(l)) {
    const rl = r as OverlayOptionValue[];
    return rl.length === 0 ? l : clone([...l, ...rl]);
  }
  if (typeof l === "object" && l !== null) return mergeMap(l, r as OptionMap, path) ?? {};
  if (typeof l === "boolean") return r;
  return r === "" || r === 0 || r === 0n ? l : r;
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function clone<T>(v: T): T {
  return v === undefined ? v : structuredClone(v);
}

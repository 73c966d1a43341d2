/**
 * go-yaml's implicit typing of plain scalars (its `resolve`), shared by the decoder (what a plain
 * scalar means) and the emitter (which strings must be quoted to stay strings).
 *
 * Rules, from go.yaml.in/yaml/v4 `internal/libyaml/resolver.go`:
 * - exact words: `true True TRUE false False FALSE` → bool; `"" ~ null Null NULL` → null;
 *   `.nan .NaN .NAN`, `[+-].inf …`, `-0`, `-0.0` → float; `<<` → merge key;
 * - a first character of `.` → float when Go's ParseFloat accepts it;
 * - a first character that is a digit or sign → timestamp (`2006-1-2`, with optional time and
 *   zone), else, with every `_` removed, Go's ParseInt(s, 0, 64) (`0x`, `0o`, `0b`, leading-`0`
 *   octal), ParseUint, then a YAML-style float;
 * - everything else is a string. YAML 1.1 words such as `yes`/`off` are strings.
 */

export type Resolved =
  | { readonly tag: "null" }
  | { readonly tag: "bool"; readonly value: boolean }
  /** An integer; `uint` is true when it only fits Go's uint64 (above MaxInt64). */
  | { readonly tag: "int"; readonly value: bigint; readonly uint: boolean }
  | { readonly tag: "float"; readonly value: number }
  /** A timestamp; `text` is its Go RFC 3339 (nanosecond) rendering. */
  | { readonly tag: "timestamp"; readonly text: string }
  | { readonly tag: "merge" }
  | { readonly tag: "str" };

const STR: Resolved = { tag: "str" };

const WORDS = new Map<string, Resolved>();
for (const w of ["true", "True", "TRUE"]) WORDS.set(w, { tag: "bool", value: true });
for (const w of ["false", "False", "FALSE"]) WORDS.set(w, { tag: "bool", value: false });
for (const w of ["", "~", "null", "Null", "NULL"]) WORDS.set(w, { tag: "null" });
for (const w of [".nan", ".NaN", ".NAN"]) WORDS.set(w, { tag: "float", value: NaN });
for (const w of [".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"])
  WORDS.set(w, { tag: "float", value: Infinity });
for (const w of ["-.inf", "-.Inf", "-.INF"]) WORDS.set(w, { tag: "float", value: -Infinity });
for (const w of ["-0", "-0.0"]) WORDS.set(w, { tag: "float", value: -0 });
WORDS.set("<<", { tag: "merge" });

const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);
const MAX_UINT64 = (1n << 64n) - 1n;

/** The first-character classes of go-yaml's resolve table. */
function hint(c: string | undefined): "M" | "." | "D" | "S" | undefined {
  if (c === undefined) return "M";
  if (c === "+" || c === "-") return "S";
  if (c >= "0" && c <= "9") return "D";
  if (c === ".") return ".";
  if ("yYnNtTfFoO~<".includes(c)) return "M";
  return undefined;
}

const YAML_STYLE_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/**
 * How go-yaml types a plain (unquoted, untagged) scalar. `timestamps: false` is the variant used
 * under an explicit non-timestamp tag (`!!int 2001-12-14` is not a timestamp).
 */
export function resolvePlain(s: string, timestamps = true): Resolved {
  const h = hint(s[0]);
  if (h === undefined) return STR;
  const word = WORDS.get(s);
  if (word) return word;
  switch (h) {
    case "M":
      return STR;
    case ".": {
      const f = parseGoDecimalFloat(s);
      return f === undefined ? STR : { tag: "float", value: f };
    }
    case "D":
    case "S": {
      const ts = timestamps ? parseTimestamp(s) : undefined;
      if (ts !== undefined) return { tag: "timestamp", text: ts };
      const p = s.replaceAll("_", "");
      const i = parseGoInt(p, true);
      if (i !== undefined && i >= MIN_INT64 && i <= MAX_INT64) return { tag: "int", value: i, uint: false };
      const u = parseGoInt(p, false);
      if (u !== undefined && u >= 0n && u <= MAX_UINT64) return { tag: "int", value: u, uint: true };
      if (YAML_STYLE_FLOAT.test(p)) {
        const f = Number(p);
        if (Number.isFinite(f)) return { tag: "float", value: f };
      }
      return STR;
    }
  }
}

/**
 * Go's strconv.ParseInt (`signed`) or ParseUint with base 0, underscores allowed where Go allows
 * them, without the range check. Shared by everything that reads Go-style integers (META keys too).
 */
export function parseGoIntLiteral(text: string, signed: boolean): bigint | undefined {
  if (text.includes("_") && !underscoreOK(text)) return undefined;
  return parseGoInt(text.replaceAll("_", ""), signed);
}

/**
 * Go's strconv.ParseInt/ParseUint with base 0 on a string without underscores, without the range
 * check (the caller applies it). `signed` allows a leading sign (ParseUint does not).
 */
export function parseGoInt(s: string, signed: boolean): bigint | undefined {
  let neg = false;
  let t = s;
  if (signed && (t[0] === "+" || t[0] === "-")) {
    neg = t[0] === "-";
    t = t.slice(1);
  }
  if (t === "") return undefined;
  let base = 10;
  if (t[0] === "0") {
    const p = t[1]?.toLowerCase();
    if (t.length >= 3 && p === "b") [base, t] = [2, t.slice(2)];
    else if (t.length >= 3 && p === "o") [base, t] = [8, t.slice(2)];
    else if (t.length >= 3 && p === "x") [base, t] = [16, t.slice(2)];
    else [base, t] = [8, t.slice(1)];
  }
  const digits =
    base === 2 ? /^[01]*$/ : base === 8 ? /^[0-7]*$/ : base === 10 ? /^[0-9]*$/ : /^[0-9a-fA-F]*$/;
  if (!digits.test(t)) return undefined;
  if (t === "") return 0n; // only reachable for a lone "0"
  const prefix = base === 2 ? "0b" : base === 8 ? "0o" : base === 16 ? "0x" : "";
  const v = BigInt(prefix + t);
  return neg ? -v : v;
}

/** Go's rule for underscores in numbers: only between digits (or after a base prefix). */
export function underscoreOK(s0: string): boolean {
  let s = s0;
  let saw = "^";
  let i = 0;
  if (s[0] === "-" || s[0] === "+") s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && "box".includes(s[1]!.toLowerCase())) {
    i = 2;
    saw = "0";
    hex = s[1]!.toLowerCase() === "x";
  }
  for (; i < s.length; i++) {
    const c = s[i]!;
    if ((c >= "0" && c <= "9") || (hex && /[a-fA-F]/.test(c))) {
      saw = "0";
      continue;
    }
    if (c === "_") {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

/** Go's ParseFloat for a string starting with `.` (decimal only; overflow is an error). */
function parseGoDecimalFloat(s: string): number | undefined {
  if (s.includes("_") && !underscoreOK(s)) return undefined;
  const p = s.replaceAll("_", "");
  if (!/^\.[0-9]+(?:[eE][-+]?[0-9]+)?$/.test(p)) return undefined;
  const f = Number(p);
  return Number.isFinite(f) ? f : undefined;
}

// --- timestamps ------------------------------------------------------------------------------

function daysIn(month: number, year: number): number {
  if (month === 2) {
    const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    return leap ? 29 : 28;
  }
  return [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

const isDigitAt = (s: string, i: number) => i < s.length && s[i]! >= "0" && s[i]! <= "9";

/** Go's time getnum: one or two digits (exactly two when fixed). */
function getnum(s: string, fixed: boolean): [number, string] | undefined {
  if (!isDigitAt(s, 0)) return undefined;
  if (!isDigitAt(s, 1)) {
    if (fixed) return undefined;
    return [Number(s[0]), s.slice(1)];
  }
  return [Number(s.slice(0, 2)), s.slice(2)];
}

type Layout = "T" | "t" | " " | "date";

/** One of go-yaml's four time.Parse layouts, applied with Go's rules. */
function parseLayout(s: string, layout: Layout): string | undefined {
  let v = s;
  if (v.length < 4 || !isDigitAt(v, 0)) return undefined;
  const yearText = v.slice(0, 4);
  if (!/^[0-9]{4}$/.test(yearText)) return undefined;
  const year = Number(yearText);
  v = v.slice(4);
  if (v[0] !== "-") return undefined;
  let r = getnum(v.slice(1), false);
  if (!r) return undefined;
  const month = r[0];
  v = r[1];
  if (month <= 0 || month > 12) return undefined;
  if (v[0] !== "-") return undefined;
  r = getnum(v.slice(1), false);
  if (!r) return undefined;
  const day = r[0];
  v = r[1];
  let hour = 0;
  let min = 0;
  let sec = 0;
  let nsec = 0;
  let offset = 0; // seconds east of UTC
  if (layout !== "date") {
    if (v[0] !== layout) return undefined;
    r = getnum(v.slice(1), false);
    if (!r) return undefined;
    hour = r[0];
    v = r[1];
    if (hour >= 24) return undefined;
    if (v[0] !== ":") return undefined;
    r = getnum(v.slice(1), false);
    if (!r) return undefined;
    min = r[0];
    v = r[1];
    if (min >= 60) return undefined;
    if (v[0] !== ":") return undefined;
    r = getnum(v.slice(1), false);
    if (!r) return undefined;
    sec = r[0];
    v = r[1];
    if (sec >= 60) return undefined;
    // Fractional seconds: a comma or period followed by any number of digits (9 are kept).
    if (v.length >= 2 && (v[0] === "." || v[0] === ",") && isDigitAt(v, 1)) {
      let n = 1;
      while (isDigitAt(v, n)) n++;
      const frac = v.slice(1, Math.min(n, 10));
      nsec = Number(frac.padEnd(9, "0"));
      v = v.slice(n);
    }
    if (layout !== " ") {
      if (v[0] === "Z") {
        v = v.slice(1);
      } else {
        if (v.length < 6 || v[3] !== ":") return undefined;
        const sign = v[0];
        const hh = getnum(v.slice(1, 3), true);
        const mm = getnum(v.slice(4, 6), true);
        if (!hh || !mm || hh[1] !== "" || mm[1] !== "") return undefined;
        if (hh[0] > 24 || mm[0] > 60) return undefined;
        offset = (hh[0] * 60 + mm[0]) * 60;
        if (sign === "-") offset = -offset;
        else if (sign !== "+") return undefined;
        v = v.slice(6);
      }
    }
  }
  if (v !== "") return undefined;
  if (day < 1 || day > daysIn(month, year)) return undefined;
  return formatRFC3339Nano(year, month, day, hour, min, sec, nsec, offset);
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

function formatRFC3339Nano(
  year: number,
  month: number,
  day: number,
  hour: number,
  min: number,
  sec: number,
  nsec: number,
  offset: number,
): string {
  let frac = "";
  if (nsec > 0) frac = "." + pad(nsec, 9).replace(/0+$/, "");
  let zone = "Z";
  if (offset !== 0) {
    const a = Math.abs(offset);
    zone = `${offset < 0 ? "-" : "+"}${pad(Math.floor(a / 3600))}:${pad(Math.floor((a % 3600) / 60))}`;
  }
  return `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(min)}:${pad(sec)}${frac}${zone}`;
}

/**
 * go-yaml's parseTimestamp: the layouts `2006-1-2T15:4:5.999999999Z07:00` (also with a lower-case
 * `t`), `2006-1-2 15:4:5.999999999` and `2006-1-2`. Returns the RFC 3339 rendering or undefined.
 */
export function parseTimestamp(s: string): string | undefined {
  let i = 0;
  while (i < s.length && s[i]! >= "0" && s[i]! <= "9") i++;
  if (i !== 4 || i === s.length || s[i] !== "-") return undefined;
  for (const layout of ["T", "t", " ", "date"] as const) {
    const r = parseLayout(s, layout);
    if (r !== undefined) return r;
  }
  return undefined;
}

/**
 * Test inputs described by small JSON specs (so the committed Go vectors stay small even for
 * inputs that cross Go's 64 KiB window and 16384-token block limits).
 */

/** One input: literal text or hex, a repeated string, seeded pseudo-random bytes or words, zeros, or a concatenation. */
export type InputSpec =
  | { readonly text: string }
  | { readonly hex: string }
  | { readonly repeat: string; readonly times: number }
  | { readonly random: number; readonly seed: number; readonly alphabet?: string }
  | { readonly words: number; readonly seed: number }
  | { readonly zeros: number }
  | { readonly concat: readonly InputSpec[] };

// Word list for text-like inputs: many repeats at varied distances, as in configs and logs.
const WORDS = [
  "the",
  "talos",
  "machine",
  "config",
  "network",
  "interface",
  "address",
  "boot",
  "install",
  "disk",
  "kernel",
  "{",
  "}",
  '"key":',
  '"value",',
  "0x0a",
  "1.2.3.4",
  "eth0",
  "true",
  "false",
  "\n",
];

/** xorshift32: tiny, deterministic, and easy to re-implement wherever vectors are generated. */
function xorshift32(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** The bytes a spec describes. */
export function buildInput(spec: InputSpec): Uint8Array {
  if ("text" in spec) return new TextEncoder().encode(spec.text);
  if ("hex" in spec) return Uint8Array.from(Buffer.from(spec.hex, "hex"));
  if ("repeat" in spec) return new TextEncoder().encode(spec.repeat.repeat(spec.times));
  if ("zeros" in spec) return new Uint8Array(spec.zeros);
  if ("random" in spec) {
    const next = xorshift32(spec.seed);
    const alphabet = spec.alphabet === undefined ? undefined : new TextEncoder().encode(spec.alphabet);
    return Uint8Array.from({ length: spec.random }, () => {
      const r = next();
      return alphabet ? alphabet[r % alphabet.length]! : r >>> 24;
    });
  }
  if ("words" in spec) {
    const next = xorshift32(spec.seed);
    let text = "";
    for (let i = 0; i < spec.words; i++) text += WORDS[next() % WORDS.length]! + (next() % 4 ? " " : "");
    return new TextEncoder().encode(text);
  }
  const parts = spec.concat.map(buildInput);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

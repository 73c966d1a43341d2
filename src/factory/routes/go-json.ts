/** JSON as Go's `json.Encoder` writes it: HTML-escaped `<`, `>`, `&`, U+2028/9, trailing newline. */
export function goJson(value: unknown): string {
  return (
    JSON.stringify(value)
      .replace(/</g, "\\u003c")
      .replace(/>/g, "\\u003e")
      .replace(/&/g, "\\u0026")
      .replace(/\u2028/g, "\\u2028")
      .replace(/\u2029/g, "\\u2029") + "\n"
  );
}

/** Content type Go's sniffing gives the JSON and text bodies upstream writes without one. */
export const SNIFFED_TEXT = "text/plain; charset=utf-8";

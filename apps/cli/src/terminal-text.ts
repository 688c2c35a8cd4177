/**
 * Text a command prints for a person: control characters (C0, DEL, C1) shown as `\xHH`, and the
 * Unicode format characters that reorder or hide text (bidi embeddings, overrides and isolates
 * U+202A–U+202E and U+2066–U+2069, the zero-width and direction marks U+200B–U+200F, the line and
 * paragraph separators U+2028/U+2029, the BOM U+FEFF) shown as `\u{HHHH}`, so a value stored in
 * Redis or read from a file (a suppression reason, an address, a site name) cannot move the
 * cursor, clear the screen, retitle the terminal or make one name look like another. `printable` keeps the output's own newlines and tabs; `printableField`
 * escapes those too, for one value inside a line. JSON output needs neither (JSON escapes C0).
 */

/** Every control or format character but tab and newline. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/gu;
/** Every control or format character. */
const CONTROL_OR_LAYOUT = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/gu;
const BYTE_ESCAPE_MAX = 0xff;

function escaped(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code <= BYTE_ESCAPE_MAX
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u{${code.toString(16).padStart(4, '0')}}`;
}

/** `text` with its control characters escaped, newlines and tabs kept. */
export function printable(text: string): string {
  return text.replace(CONTROL, escaped);
}

/** One value with every control character escaped, newlines and tabs included. */
export function printableField(value: string): string {
  return value.replace(CONTROL_OR_LAYOUT, escaped);
}

/** Rows as aligned text columns (two spaces apart; the last column is not padded). */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]?.length ?? 0)));
  return rows.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Text a command prints for a person: control characters (C0, DEL, C1 and the Unicode line and
 * paragraph separators) shown as `\xHH` / `\uHHHH`, so a value stored in Redis or read from a
 * file (a suppression reason, an address, a site name) cannot move the cursor, clear the screen
 * or retitle the terminal. `printable` keeps the output's own newlines and tabs; `printableField`
 * escapes those too, for one value inside a line. JSON output needs neither (JSON escapes C0).
 */

/** Every control character but tab and newline. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/gu;
/** Every control character. */
const CONTROL_OR_LAYOUT = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/gu;
const BYTE_ESCAPE_MAX = 0xff;

function escaped(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code <= BYTE_ESCAPE_MAX
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with its control characters escaped, newlines and tabs kept. */
export function printable(text: string): string {
  return text.replace(CONTROL, escaped);
}

/** One value with every control character escaped, newlines and tabs included. */
export function printableField(value: string): string {
  return value.replace(CONTROL_OR_LAYOUT, escaped);
}

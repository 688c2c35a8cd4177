/**
 * Helpers that keep the bounce parsers linear in their input:
 * - `findText` / `replaceText`: substring search in time linear in text + pattern
 *   (Knuth–Morris–Pratt), for patterns taken from the message itself. V8's indexOf and split
 *   take time text × pattern on crafted input ("aaa…baaa…"), which a hostile bounce can choose;
 *   the fixed phrases of our own tables keep using includes().
 * - `rememberLast`: a function of one text that remembers its last answer, so a notice read for
 *   every recipient of a report is scanned once.
 * Pure; no I/O.
 */

/**
 * Patterns up to this long use V8's own search: its worst case, text × pattern, is then still
 * linear in the text (and it is faster on ordinary input).
 */
const NATIVE_SEARCH_MAX_CHARS = 64;

/** The KMP failure table: for each prefix, the length of its longest proper border. */
function borders(pattern: string): Int32Array {
  const table = new Int32Array(pattern.length);
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = table[k - 1]!;
    if (pattern[i] === pattern[k]) k++;
    table[i] = k;
  }
  return table;
}

/** Start of every non-overlapping occurrence of `pattern` in `text` from `from`, left to right. */
function* occurrences(text: string, pattern: string, from = 0): Generator<number> {
  if (pattern === '') return;
  const table = borders(pattern);
  let k = 0;
  for (let i = Math.max(0, from); i < text.length; i++) {
    while (k > 0 && text[i] !== pattern[k]) k = table[k - 1]!;
    if (text[i] === pattern[k]) k++;
    if (k === pattern.length) {
      yield i - pattern.length + 1;
      k = 0;
    }
  }
}

/** `text.indexOf(pattern, from)` in linear time. */
export function findText(text: string, pattern: string, from = 0): number {
  if (pattern.length <= NATIVE_SEARCH_MAX_CHARS) return text.indexOf(pattern, from);
  for (const at of occurrences(text, pattern, from)) return at;
  return -1;
}

/** `text.split(pattern).join(by)` in linear time (for a non-empty pattern). */
export function replaceText(text: string, pattern: string, by: string): string {
  if (pattern.length <= NATIVE_SEARCH_MAX_CHARS) return text.split(pattern).join(by);
  const pieces: string[] = [];
  let last = 0;
  for (const at of occurrences(text, pattern)) {
    pieces.push(text.slice(last, at));
    last = at + pattern.length;
  }
  pieces.push(text.slice(last));
  return pieces.join(by);
}

/** `fn` remembering its last argument and answer. */
export function rememberLast<T>(fn: (text: string) => T): (text: string) => T {
  let lastText: string | undefined;
  let lastAnswer: T;
  return (text) => {
    if (text !== lastText) {
      lastAnswer = fn(text);
      lastText = text;
    }
    return lastAnswer;
  };
}

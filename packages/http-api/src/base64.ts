/**
 * Base64 text as the API takes it (attachment content, `raw` with `raw_encoding: "base64"`):
 * RFC 4648's alphabet, wrapped by any CR, LF or space, padded to a multiple of 4 with at most two
 * '=' at the end. One pass over the characters, no regular expression: the check is linear in the
 * input whatever it holds (a backtracking pattern over 1 MB of newlines froze the event loop).
 */

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const PAD = 0x3d;
const MAX_PADDING = 2;

const isWrap = (c: number): boolean => c === CR || c === LF || c === SPACE;

/** A–Z, a–z, 0–9, '+', '/'. */
function isAlphabet(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2f
  );
}

/** True when `text` is base64 (wrapped or not; empty is the empty content). */
export function isBase64(text: string): boolean {
  let data = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isWrap(c)) continue;
    if (c === PAD) {
      if (++padding > MAX_PADDING) return false;
      continue;
    }
    // Nothing but wrapping after the padding.
    if (padding > 0 || !isAlphabet(c)) return false;
    data++;
  }
  return (data + padding) % 4 === 0;
}

/** Bytes `text` decodes to (it passed isBase64). */
export function base64Bytes(text: string): number {
  let data = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (!isWrap(c) && c !== PAD) data++;
  }
  return Math.floor((data * 3) / 4);
}

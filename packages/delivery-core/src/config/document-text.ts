/**
 * The bytes of a config-like file → its text, refusing what is not a small UTF-8 text file: more
 * than MAX_DOCUMENT_BYTES (read no further than that, so /dev/zero is refused too), a UTF-16 or
 * UTF-32 byte order mark, bytes that are not UTF-8, and control characters (binary data). A UTF-8
 * byte order mark is dropped. A refusal is a DocumentProblem with the line and column and the
 * nature of the problem, never the content.
 */

import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import { MAX_DOCUMENT_BYTES } from './limits.js';

/** Something wrong with a document, at a place in it when known; messages never quote the text. */
export class DocumentProblem extends Error {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = 'DocumentProblem';
  }
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const UTF16_BOMS = [
  [0xff, 0xfe],
  [0xfe, 0xff],
];
/** C0 controls but tab, line feed and carriage return, and DEL: never in YAML or JSON text. */
const CONTROL_CHARACTER = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
const LINE_FEED = 0x0a;

/** Reads at most MAX_DOCUMENT_BYTES + 1 bytes (fs errors propagate as they are). */
export function readCapped(path: string): Buffer {
  const buffer = Buffer.allocUnsafe(MAX_DOCUMENT_BYTES + 1);
  const fd = openSync(path, 'r');
  try {
    let length = 0;
    for (;;) {
      const read = readSync(fd, buffer, length, buffer.length - length, null);
      if (read === 0) break;
      length += read;
      if (length > MAX_DOCUMENT_BYTES) {
        throw new DocumentProblem(
          `too large: more than ${MAX_DOCUMENT_BYTES} bytes (a config file is a few KiB)`,
        );
      }
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((byte, i) => bytes[i] === byte);
}

/** Length of the UTF-8 sequence a lead byte starts, or 0 for a byte that cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** Offset of the first byte that is not part of a well-formed UTF-8 sequence (bytes not UTF-8). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const length = sequenceLength(bytes[i]!);
    if (length === 0 || i + length > bytes.length) return i;
    for (let k = 1; k < length; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    if (length > 1 && !isUtf8(bytes.subarray(i, i + length))) return i; // overlong, surrogate, > U+10FFFF
    i += length;
  }
  return bytes.length;
}

/** 1-based line and column of a byte offset (the column counts bytes). */
function bytePlace(bytes: Uint8Array, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset; i++) {
    if (bytes[i] === LINE_FEED) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** 1-based line and column of a character offset in text. */
export function textPlace(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** The text of a document's bytes; DocumentProblem when they are not UTF-8 text. */
export function decodeDocumentText(bytes: Uint8Array): string {
  if (UTF16_BOMS.some((bom) => startsWith(bytes, bom))) {
    throw new DocumentProblem(
      'not UTF-8: the file starts with a UTF-16 byte order mark (save it as UTF-8)',
      1,
      1,
    );
  }
  const body = startsWith(bytes, UTF8_BOM) ? bytes.subarray(UTF8_BOM.length) : bytes;
  if (!isUtf8(body)) {
    const { line, column } = bytePlace(body, firstInvalidUtf8(body));
    throw new DocumentProblem('not UTF-8: an invalid byte (save the file as UTF-8)', line, column);
  }
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  const control = CONTROL_CHARACTER.exec(text);
  if (control) {
    const { line, column } = textPlace(text, control.index);
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
    throw new DocumentProblem(
      `binary data: control character U+${code} (a config file is text)`,
      line,
      column,
    );
  }
  return text;
}
